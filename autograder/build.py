"""Build every generated file of the course from its sources, and check that the committed ones are fresh.

Generated (never edited by hand):

- ``notebooks/ko/*.ipynb`` and ``notebooks/en/*.ipynb`` from ``notebooks/bilingual/*.ipynb``;
- ``img/*.svg`` from the drawing functions in ``img/figures.py``;
- ``release/<assignment>/`` from ``source/<assignment>/`` by real ``nbgrader generate_assignment``.

``build(course, out)`` writes all of them under ``out``; ``sync`` builds into a temporary folder and
brings the course in line with it; ``stale`` builds into a temporary folder and lists what differs.
"""

from __future__ import annotations

import filecmp
import importlib.util
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from .bilingual import LANGS, monolingual, parity_problems
from .course import Course, CourseError

SVG_SALT = "autograd-course"  # fixes the ids matplotlib writes into SVG files, so rebuilds are identical


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress:
        progress(text)


def read_checked(path: Path, course: Course) -> nbformat.NotebookNode:
    """A bilingual notebook, refused with a clear message when its language pairs are broken."""
    nb = nbformat.read(path, as_version=4)
    problems = parity_problems(nb, path.name)
    if problems:
        raise CourseError("cli_broken_source", path=str(path.relative_to(course.root)), problem=problems[0])
    return nb


# ------------------------------------------------------------------------------------------ lectures


def build_lectures(course: Course, out: Path) -> list[Path]:
    written = []
    for path in course.lecture_notebooks():
        nb = read_checked(path, course)
        origin = path.relative_to(course.root).as_posix()
        for lang in LANGS:
            target = out / "notebooks" / lang / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(monolingual(nb, lang, origin), target)
            written.append(target)
    return written


# ------------------------------------------------------------------------------------------- figures


def load_figures(course: Course) -> dict[str, Callable]:
    """The ``FIGURES`` table of ``img/figures.py``: file name → function returning a Figure."""
    spec = importlib.util.spec_from_file_location("course_figures", course.img / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FIGURES)


def build_figures(course: Course, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import use_korean_font

    written = []
    for name, draw in sorted(load_figures(course).items()):
        target = out / "img" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Glyphs are stored as paths, so the Korean font is needed to build a figure, not to view it.
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
            use_korean_font()
            figure = draw()
            figure.savefig(target, bbox_inches="tight", metadata={"Date": None, "Creator": None})
        plt.close(figure)
        written.append(target)
    return written


# ------------------------------------------------------------------------------------------ releases


def generate_release(work: Path, assignment: str) -> None:
    """nbgrader's student version of ``assignment`` in ``work/release``. A failure becomes a message with
    what nbgrader said went wrong (the exceptions in its log, else its last lines), not a traceback."""
    from .grading import nbgrader_api

    done = nbgrader_api.generate_release(work, assignment)
    if not done["success"]:
        said = (done.get("log", "") + "\n" + done.get("error", "")).strip().splitlines()
        causes = [x.strip() for x in said if _EXCEPTION_LINE.match(x.strip()) and "Please see" not in x]
        tail = "\n".join(dict.fromkeys(causes)) or "\n".join(said[-15:])
        raise CourseError(
            "cli_nbgrader_failed", command="generate_assignment", assignment=assignment, tail=tail
        )


# the last line of a traceback: ``package.module.SomeError: what went wrong``
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): \S")


def build_release(course: Course, assignment: str, out: Path, lang: str = "both") -> Path:
    """The student version of ``assignment`` in ``lang`` (``ko``, ``en`` or ``both``) at ``out/<assignment>``.

    The source is filtered to one language first, then released by ``nbgrader generate_assignment``;
    grade cells are language-neutral, so every language has the same grade ids and checksums.
    """
    folder = course.assignment(assignment)
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        work = Path(tmp)
        shutil.copy(course.config, work / "nbgrader_config.py")
        shutil.copytree(folder, work / "source" / assignment)
        for path in sorted((work / "source" / assignment).glob("*.ipynb")):
            nb = read_checked(folder / path.name, course)
            if lang != "both":
                nb = monolingual(nb, lang, path.relative_to(work).as_posix())
                del nb.metadata["course"]
            nbformat.write(nb, path)
        generate_release(work, assignment)
        if lang != "both":
            # nbgrader drops notebook metadata; the language is put back so that `course check` and the
            # checker's messages can answer in it (cell checksums do not depend on notebook metadata)
            for path in sorted((work / "release" / assignment).glob("*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                nb.metadata["course"] = {"lang": lang}
                nbformat.write(nb, path)
        target = out / assignment
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(work / "release" / assignment, target)
    return target


def build_releases(course: Course, out: Path, progress=None) -> list[Path]:
    written = []
    for assignment in course.assignments():
        _say(progress, f"release/{assignment}")
        target = build_release(course, assignment, out / "release")
        written += sorted(p for p in target.rglob("*") if p.is_file())
    return written


# ------------------------------------------------------------------------------------ build and check


def build(course: Course, out: Path, progress=None) -> list[Path]:
    """Write every generated file under ``out``; returns their paths."""
    _say(progress, "notebooks/ko, notebooks/en")
    written = build_lectures(course, out)
    _say(progress, "img/")
    written += build_figures(course, out)
    written += build_releases(course, out, progress)
    return written


def generated_files(root: Path) -> set[str]:
    """Relative paths under ``root`` that belong to the build (so a stale extra one can be found)."""
    found = set()
    for pattern in ("notebooks/ko/**/*", "notebooks/en/**/*", "release/**/*", "img/*"):
        for path in root.glob(pattern):
            if path.is_file() and path.name != "figures.py" and "__pycache__" not in path.parts:
                found.add(path.relative_to(root).as_posix())
    return found


def stale(course: Course, progress=None) -> list[str]:
    """Generated files whose committed copy differs, is missing, or should not exist (empty = fresh)."""
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        fresh = Path(tmp)
        build(course, fresh, progress)
        expected, present = generated_files(fresh), generated_files(course.root)
        report = []
        for rel in sorted(expected | present):
            if rel not in present:
                report.append(f"missing  {rel}")
            elif rel not in expected:
                report.append(f"extra    {rel}")
            elif not filecmp.cmp(fresh / rel, course.root / rel, shallow=False):
                report.append(f"differs  {rel}")
        return report


def sync(course: Course, progress=None) -> int:
    """Rebuild the course in place: write what changed, remove generated files no source makes."""
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp:
        fresh = Path(tmp)
        build(course, fresh, progress)
        expected = generated_files(fresh)
        for rel in generated_files(course.root) - expected:
            (course.root / rel).unlink()
        for rel in expected:
            target = course.root / rel
            if not target.exists() or not filecmp.cmp(fresh / rel, target, shallow=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(fresh / rel, target)
        return len(expected)
