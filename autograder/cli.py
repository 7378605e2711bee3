"""The ``course`` command: build the course, release an assignment in one language, start JupyterLab.

course build            rebuild every generated file (lectures ko/en, figures, releases)
course build --check    rebuild into a temporary folder; fail, naming the files, if anything differs
course build --force    also overwrite generated notebooks changed since they were built
course start unit01 [--lang ko|en]   copy the assignment into work/unit01/, the student's own copy
course release unit01 --lang ko [--output DIR]   a Korean-only version in release-ko/unit01/
course lab [--port 8888] [--lang ko|en] [--instructor]   JupyterLab on the course (127.0.0.1), in ko or en
course grade unit01 [--jobs N] [--scheduler ADDR] [--force] [--no-sandbox]
course feedback unit01    per-student feedback in both languages, without hidden tests
course report unit01 [--output DIR]   the class's mistakes at a glance: one HTML page (ko + en) and CSV
course export [--to grades.csv] [--format nbgrader|canvas|moodle] [--assignment A]
course check work/unit01/exercises.ipynb [--lang ko|en]   a student's self-check (visible tests)
course site [--out _site] [--cache DIR]   the course as a static website, Korean and English
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .course import Course, CourseError
from .messages import pad, render, width


def _progress(text: str) -> None:
    print(f"  · {text}", file=sys.stderr, flush=True)


def _class_course(args: argparse.Namespace) -> Course:
    """The instructor's course for grade, feedback and export: ``--root``, or the current folder and
    those above it, never this package's own folder (that would put a class's gradebook into the course
    repository when the command is run from the wrong place)."""
    return Course.find(args.root or Path.cwd())


def cmd_build(args: argparse.Namespace) -> int:
    from . import build

    course = Course.find(args.root)
    if args.check:
        report = build.stale(course, _progress)
        if report:
            print(render("cli_build_stale", count=len(report), files="\n".join(report)))
            return 1
        print(render("cli_build_done", count=len(build.generated_files(course.root))))
        return 0
    count, kept = build.sync(course, _progress, force=args.force)
    if kept:
        print(render("cli_build_kept", count=len(kept), files="\n".join(f"  {rel}" for rel in kept)))
        return 1
    print(render("cli_build_done", count=count))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """Copy the student version of an assignment into ``work/<assignment>/``, the student's own folder,
    which no command regenerates; files already there are never overwritten."""
    from .build import build_release

    course = Course.find(args.root)
    course.assignment(args.assignment)  # an unknown assignment: the message lists the known ones
    target = course.work / args.assignment
    with tempfile.TemporaryDirectory(prefix="course-start-") as tmp:
        if args.lang == "both":
            released = course.release / args.assignment
        else:
            released = build_release(course, args.assignment, Path(tmp), args.lang)
        copied, kept = [], []
        for source in sorted(p for p in released.rglob("*") if p.is_file()):
            copy = target / source.relative_to(released)
            if copy.exists():
                kept.append(copy)
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
            copied.append(copy)
    if copied:
        print(render("cli_start_done", path=_shown(target), notebook=_shown(copied[0])))
    for copy in kept:
        print(render("cli_start_kept", path=_shown(copy)))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .build import build_release

    course = Course.find(args.root)
    # a one-language version goes beside the committed bilingual release/, never over it (unless --output)
    output = Path(args.output) if args.output else course.one_language_release(args.lang)
    target = build_release(course, args.assignment, output, args.lang)
    print(render("cli_release_done", lang=args.lang, path=_shown(target)))
    return 0


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (what a user types), else absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


# JupyterLab plugins a student's lab leaves out (`course lab`; `course lab --instructor` keeps nbgrader's).
# nbgrader's instructor tools: the Formgrader, the Create Assignment sidebar and the Course List (ids from
# its labextension); the Assignment List and the Validate button stay.
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
# JupyterLab's news: --LabApp.news_url=None stops the fetching, but not the "Would you like to get notified
# about official Jupyter news?" prompt, which this plugin shows.
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"


def lab_page_config(instructor: bool) -> dict:
    """The ``page_config.json`` of the course's lab: the plugins it leaves out."""
    disabled = [NEWS_PLUGIN] + ([] if instructor else list(INSTRUCTOR_PLUGINS))
    return {"disabledExtensions": {plugin: True for plugin in disabled}}


# The interface language of `course lab --lang`: JupyterLab's own setting, not the system locale (which a
# container often lacks even when LANG names it). "en" is JupyterLab's built-in English; ko_KR comes from
# the language pack jupyterlab-language-pack-ko-KR, a dependency of the course.
TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"
LAB_LOCALES = {"ko": "ko_KR", "en": "en"}
LANGUAGE_PACKS = {"ko_KR": "jupyterlab_language_pack_ko_KR"}


def lab_setting_overrides(lang: str | None) -> dict:
    """The ``default_setting_overrides.json`` of the course's lab: the interface language of ``--lang``
    (none without it: JupyterLab's own choice). Like the hub's ``overrides.json`` it sets a default, so a
    language the user picked in Settings → Language still wins."""
    return {TRANSLATION_PLUGIN: {"locale": LAB_LOCALES[lang]}} if lang else {}


def _chosen_locale() -> str | None:
    """The interface language the user picked in JupyterLab's Settings → Language, if any."""
    import json5
    from jupyterlab.commands import get_user_settings_dir

    package, plugin = TRANSLATION_PLUGIN.split(":")
    path = Path(get_user_settings_dir(), package, f"{plugin}.jupyterlab-settings")
    try:
        locale = json5.loads(path.read_text(encoding="utf-8")).get("locale")
    except (OSError, ValueError, AttributeError):
        return None
    return locale if isinstance(locale, str) and locale != "default" else None


def _lab_language_notes(lang: str) -> None:
    """Say why the interface would not come out in ``lang``: no language pack, or the user's own choice."""
    locale = LAB_LOCALES[lang]
    pack = LANGUAGE_PACKS.get(locale)
    if pack and importlib.util.find_spec(pack) is None:
        print(render("cli_lab_no_language_pack", lang, locale=locale), file=sys.stderr)
    chosen = _chosen_locale()
    if chosen and chosen.replace("-", "_").lower() != locale.lower():
        print(render("cli_lab_chosen_locale", lang, chosen=chosen, locale=locale), file=sys.stderr)


def cmd_lab(args: argparse.Namespace, extra: list[str]) -> int:
    import json

    course = Course.find(args.root)
    if importlib.util.find_spec("jupyterlab") is None:
        raise CourseError("cli_no_jupyterlab")
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={course.root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={args.port}",
        "--LabApp.default_url=/lab/tree/notebooks",
        # the course stays on 127.0.0.1: no news feed, no update check against PyPI
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root
    env = dict(os.environ)
    if args.lang:
        env["COURSE_LANG"] = args.lang  # kernels inherit it: the checker then speaks one language
        _lab_language_notes(args.lang)
    with tempfile.TemporaryDirectory(prefix="course-lab-") as settings:
        # a Jupyter config folder of this lab's own, before the user's others: JupyterLab merges the
        # page_config.json of every config folder (`jupyter labextension disable` writes the same file)
        labconfig = Path(settings) / "labconfig"
        labconfig.mkdir()
        (labconfig / "page_config.json").write_text(json.dumps(lab_page_config(args.instructor), indent=1))
        # settings defaults (jupyterlab_server reads them from every config folder's labconfig/, ahead of
        # the hub's {sys.prefix}/share/jupyter/lab/settings/overrides.json)
        overrides = json.dumps(lab_setting_overrides(args.lang), indent=1)
        (labconfig / "default_setting_overrides.json").write_text(overrides)
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [settings, env.get("JUPYTER_CONFIG_PATH")]))
        try:
            # from the course folder, so that nbgrader's extension finds nbgrader_config.py
            return subprocess.call([*command, *extra], env=env, cwd=course.root)
        except KeyboardInterrupt:
            return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from .grading.grader import GradeError, Grader, Options, score_table
    from .grading.nbgrader_api import execute_timeout
    from .grading.sandbox import Limits

    course = _class_course(args)
    # per cell: --cell-timeout, else nbgrader_config.py's c.Execute.timeout, else 60 s
    cell_seconds = args.cell_timeout or execute_timeout(course.root) or 60.0
    limits = Limits(cell_seconds=cell_seconds, notebook_seconds=args.timeout)
    options = Options(
        jobs=args.jobs,
        scheduler=args.scheduler,
        sandbox=not args.no_sandbox,
        force=args.force,
        students=args.student or [],
        limits=limits,
    )
    try:
        summary = Grader(course.root, args.assignment, options).run()
    except GradeError as error:
        print(error, file=sys.stderr)
        return 2
    failed = summary.failed
    for note, students in summary.instructor.items():  # the instructor's own cells failed: say so once
        print(render("grade_instructor_summary", count=len(students), note=note), file=sys.stderr)
    rows, table = score_table(course.root, args.assignment, summary)
    print(
        render(
            "grade_done",
            assignment=args.assignment,
            graded=len(summary.graded),
            skipped=len(summary.skipped),
            failed=len(failed),
            seconds=summary.seconds,
            results=_shown(table.parent) + "/",
        )
    )
    print()
    print(_score_lines(rows, table))
    if failed:
        listing = "\n".join(f"  {student}: {why}" for student, why in sorted(failed.items()))
        print(render("grade_failed_students", count=len(failed), students=listing), file=sys.stderr)
        return 1
    return 0


def _score_lines(rows: list[tuple[str, str, str]], table: Path) -> str:
    """The students and their scores, in columns; for a large class a summary and where the table is."""
    from .grading.grader import FULL_TABLE_ABOVE

    status = {
        key: render(f"grade_status_{key}").replace("\n", " · ") for key in ("graded", "skipped", "failed")
    }
    header = (
        render("grade_table_student").replace("\n", " · "),
        render("grade_table_score").replace("\n", " · "),
    )
    shown = rows if len(rows) <= FULL_TABLE_ABOVE else rows[:10]
    columns = [max(width(header[i]), *(width(row[i]) for row in shown)) for i in (0, 1)]
    lines = [f"{pad(header[0], columns[0])}  {pad(header[1], columns[1])}"]
    lines += [f"{pad(s, columns[0])}  {pad(score, columns[1])}  {status[key]}" for s, score, key in shown]
    if len(shown) < len(rows):
        lines.append(render("grade_table_more", count=len(rows) - len(shown), path=_shown(table)))
    else:
        lines.append(render("grade_table_saved", path=_shown(table)))
    return "\n".join(lines)


def cmd_feedback(args: argparse.Namespace) -> int:
    from .grading.feedback import write_feedback

    course = _class_course(args)
    count, path = write_feedback(course.root, args.assignment, args.student or [])
    print(render("feedback_done", assignment=args.assignment, count=count, path=str(path)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .grading.report import write_report

    course = _class_course(args)
    page, tables = write_report(course.root, args.assignment, Path(args.output) if args.output else None)
    print(render("report_done", assignment=args.assignment, page=_shown(page), folder=_shown(tables) + "/"))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .grading.selfcheck import check, table

    rows, lang = check(Path(args.notebook), args.lang, progress=True)
    print(table(rows, lang))
    return 0 if all(row.passed for row in rows) else 1


def cmd_site(args: argparse.Namespace) -> int:
    course = Course.find(args.root)
    tools = ("sphinx", "myst_nb", "sphinx_book_theme")
    missing = [name for name in tools if importlib.util.find_spec(name) is None]
    if missing:
        raise CourseError("site_missing_tools", missing=", ".join(missing))
    from .site import build_site

    out = Path(args.out)
    warnings = build_site(course, out, Path(args.cache) if args.cache else None, _progress)
    if warnings:
        print(render("site_warnings", count=len(warnings), warnings="\n".join(warnings)), file=sys.stderr)
        return 1
    print(render("site_done", path=_shown(out) + "/"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    course = _class_course(args)
    if args.format == "nbgrader":
        command = [sys.executable, "-m", "nbgrader", "export", "--to", args.to]
        command += [f"--assignment={a}" for a in args.assignment or []]
        return subprocess.call(command, cwd=course.root)
    from .grading import lms

    path = Path(args.to)
    done = lms.write(
        course.root, args.format, path if path.is_absolute() else course.root / path, args.assignment
    )
    if done.unmatched:
        students = ", ".join(done.unmatched[:20]) + (" …" if len(done.unmatched) > 20 else "")
        print(
            render(f"export_unmatched_{args.format}", count=len(done.unmatched), students=students),
            file=sys.stderr,
        )
    print(
        render(
            "export_done",
            format=args.format.capitalize(),
            students=done.students,
            count=len(done.assignments),
            assignments=", ".join(done.assignments),
            path=_shown(done.path),
            unsubmitted=done.unsubmitted,
        )
    )
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="course", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    top.add_argument("--root", help="the course folder (default: found from the current folder)")
    sub = top.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="rebuild generated files (lectures ko/en, figures, releases)")
    b.add_argument(
        "--check", action="store_true", help="fail, naming the files, if a committed file is stale"
    )
    b.add_argument(
        "--force",
        action="store_true",
        help="overwrite generated notebooks changed since they were built (else they are named and kept)",
    )

    st = sub.add_parser("start", help="copy an assignment into work/<assignment>/ to write your answers in")
    st.add_argument("assignment")
    st.add_argument("--lang", choices=["ko", "en", "both"], default="both")

    r = sub.add_parser("release", help="write the student version of one assignment, in one language or both")
    r.add_argument("assignment")
    r.add_argument("--lang", choices=["ko", "en", "both"], default="both")
    r.add_argument(
        "--output",
        help="folder to write <assignment>/ into (default: release-ko/ or release-en/ for one language, "
        "release/ for both; the committed bilingual release/ is replaced only when you name it here)",
    )

    lab = sub.add_parser("lab", help="start JupyterLab on the course, on 127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument(
        "--lang",
        choices=["ko", "en"],
        help="the language of JupyterLab's interface and of the checker's messages "
        "(default: JupyterLab's own language setting, messages in both)",
    )
    lab.add_argument(
        "--instructor",
        action="store_true",
        help="keep nbgrader's instructor tools (Formgrader, Create Assignment, Course List)",
    )

    g = sub.add_parser("grade", help="grade every submission of an assignment, sandboxed and in parallel")
    g.add_argument("assignment")
    g.add_argument("--jobs", type=int, default=0, help="submissions at once (default: every core)")
    g.add_argument("--scheduler", help="a Dask scheduler address, to grade on a cluster")
    g.add_argument("--force", action="store_true", help="regrade submissions graded before")
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    g.add_argument("--no-sandbox", action="store_true", help="run student code without isolation")
    g.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds per cell (default: c.Execute.timeout in nbgrader_config.py, else 60)",
    )
    g.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default 600)")

    f = sub.add_parser("feedback", help="write each student's feedback (ko + en), never showing hidden tests")
    f.add_argument("assignment")
    f.add_argument("--student", action="append", help="only this student (repeatable)")

    rp = sub.add_parser("report", help="one page of the class's scores and mistakes (ko + en), and its CSV")
    rp.add_argument("assignment")
    rp.add_argument(
        "--output", help="folder for report.html and report/*.csv (default: course_results/<assignment>/)"
    )

    c = sub.add_parser("check", help="run a notebook's visible tests the way the grader does; print a table")
    c.add_argument("notebook")
    c.add_argument("--lang", choices=["ko", "en", "both"], help="default: the notebook's language")

    si = sub.add_parser("site", help="build the course as a static website (ko + en) to publish anywhere")
    si.add_argument("--out", default="_site", help="the folder to write the site into (emptied first)")
    si.add_argument(
        "--cache",
        help="keep the executed lectures here, reused while a lecture's code and the package are unchanged",
    )

    e = sub.add_parser("export", help="export the gradebook to CSV: nbgrader's, Canvas's or Moodle's layout")
    e.add_argument("--to", default="grades.csv")
    e.add_argument(
        "--format",
        choices=["nbgrader", "canvas", "moodle"],
        default="nbgrader",
        help="nbgrader export's CSV (default), or the file Canvas or Moodle imports",
    )
    e.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    return top


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and args.command != "lab":
        parser().error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.command == "build":
            return cmd_build(args)
        if args.command == "release":
            return cmd_release(args)
        commands = {
            "grade": cmd_grade,
            "feedback": cmd_feedback,
            "report": cmd_report,
            "export": cmd_export,
            "check": cmd_check,
            "start": cmd_start,
            "site": cmd_site,
        }
        if args.command in commands:
            return commands[args.command](args)
        return cmd_lab(args, extra)
    except CourseError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
