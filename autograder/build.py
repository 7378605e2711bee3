"""Build every generated file of the course from its sources, and check that the committed ones are fresh.

Generated (never edited by hand):

- ``notebooks/ko/*.ipynb`` and ``notebooks/en/*.ipynb`` from ``notebooks/bilingual/*.ipynb``;
- ``img/*.svg`` from the drawing functions in ``img/figures.py``;
- ``release/<assignment>/`` from ``source/<assignment>/`` by real ``nbgrader generate_assignment``.

``build(course, out)`` writes all of them under ``out``; ``sync`` builds into a temporary folder and
brings the course in line with it, and registers every assignment in the course's gradebook (nbgrader's
``generate_assignment`` with the database), so that ``course grade`` can grade it; ``stale`` builds into a
temporary folder and lists what differs.

Nothing a person writes is lost: each generated notebook records a fingerprint of its cells as built
(``metadata.course.built``). ``sync`` overwrites or removes a generated notebook only while its cells still
match it; one that was changed since (an answer written into ``release/``, notes in a lecture) is named
and kept, unless forced. Hidden files and folders (``.ipynb_checkpoints``) are never the build's.
"""

from __future__ import annotations

import filecmp
import hashlib
import importlib.util
import json
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


# -------------------------------------------------------------------------------------- fingerprints


def fingerprint(nb: nbformat.NotebookNode) -> str:
    """What a person writes in a notebook: each cell's type and source (not the outputs and metadata that
    running and saving it change)."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        digest.update(json.dumps([cell.cell_type, cell.source], ensure_ascii=False).encode())
    return digest.hexdigest()[:20]


def stamped(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with its fingerprint recorded, as the build writes it."""
    nb.metadata.setdefault("course", {})["built"] = fingerprint(nb)
    return nb


def edited(path: Path) -> bool:
    """Whether the notebook at ``path`` holds something written since a build made it: its cells no longer
    match the fingerprint it records, or it records none (the build did not make it). Other files: no."""
    if path.suffix != ".ipynb":
        return False
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - a file that is no notebook is kept for its owner to look at
        return True
    return nb.metadata.get("course", {}).get("built") != fingerprint(nb)


# ------------------------------------------------------------------------------------------ lectures


def build_lectures(course: Course, out: Path) -> list[Path]:
    written = []
    for path in course.lecture_notebooks():
        nb = read_checked(path, course)
        origin = path.relative_to(course.root).as_posix()
        for lang in LANGS:
            target = out / "notebooks" / lang / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(stamped(monolingual(nb, lang, origin)), target)
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


def generate_release(work: Path, assignment: str, db_url: str | None = None) -> None:
    """nbgrader's student version of ``assignment`` in ``work/release`` (registered in the gradebook at
    ``db_url``, if given). A failure becomes a message with what nbgrader said went wrong (the exceptions
    in its log, else its last lines), not a traceback."""
    from .grading import nbgrader_api

    done = nbgrader_api.generate_release(work, assignment, db_url)
    if not done["success"]:
        said = (done.get("log", "") + "\n" + done.get("error", "")).strip().splitlines()
        causes = [x.strip() for x in said if _EXCEPTION_LINE.match(x.strip()) and "Please see" not in x]
        tail = "\n".join(dict.fromkeys(causes)) or "\n".join(said[-15:])
        raise CourseError(
            "cli_nbgrader_failed", command="generate_assignment", assignment=assignment, tail=tail
        )


# the last line of a traceback: ``package.module.SomeError: what went wrong``
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): \S")


def build_release(
    course: Course, assignment: str, out: Path, lang: str = "both", db_url: str | None = None
) -> Path:
    """The student version of ``assignment`` in ``lang`` (``ko``, ``en`` or ``both``) at ``out/<assignment>``.

    The source is filtered to one language first, then released by ``nbgrader generate_assignment``;
    grade cells are language-neutral, so every language has the same grade ids and checksums. With
    ``db_url`` the assignment is registered in that gradebook as well.
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
        generate_release(work, assignment, db_url)
        # nbgrader drops notebook metadata; the language is put back so that `course check` and the
        # checker's messages can answer in it, with the build's fingerprint (cell checksums do not depend
        # on notebook metadata)
        for path in sorted((work / "release" / assignment).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            nb.metadata["course"] = {"lang": lang} if lang != "both" else {}
            nbformat.write(stamped(nb), path)
        target = out / assignment
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(work / "release" / assignment, target)
    return target


def build_releases(course: Course, out: Path, progress=None, db_url: str | None = None) -> list[Path]:
    written = []
    for assignment in course.assignments():
        _say(progress, f"release/{assignment}")
        target = build_release(course, assignment, out / "release", db_url=db_url)
        written += sorted(p for p in target.rglob("*") if p.is_file())
    return written


# ------------------------------------------------------------------------------------ build and check


def build(course: Course, out: Path, progress=None, db_url: str | None = None) -> list[Path]:
    """Write every generated file under ``out`` (and register the assignments in the gradebook at
    ``db_url``, if given); returns their paths."""
    _say(progress, "notebooks/ko, notebooks/en")
    written = build_lectures(course, out)
    _say(progress, "img/")
    written += build_figures(course, out)
    written += build_releases(course, out, progress, db_url)
    return written


def generated_files(root: Path) -> set[str]:
    """Relative paths under ``root`` that belong to the build (so a stale extra one can be found); hidden
    files and folders (JupyterLab's ``.ipynb_checkpoints``) are not the build's."""
    found = set()
    for pattern in ("notebooks/ko/**/*", "notebooks/en/**/*", "release/**/*", "img/*"):
        for path in root.glob(pattern):
            rel = path.relative_to(root)
            hidden = any(part.startswith(".") for part in rel.parts)
            if path.is_file() and not hidden and path.name != "figures.py" and "__pycache__" not in rel.parts:
                found.add(rel.as_posix())
    return found


def made_by_build(rel: str, path: Path) -> bool:
    """Whether a generated file that no source makes any more is the build's to remove: a figure, or a
    notebook the build made that nobody changed since. Anything else was put there by someone, and stays."""
    return (rel.startswith("img/") and path.suffix == ".svg") or (
        path.suffix == ".ipynb" and not edited(path)
    )


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


def sync(course: Course, progress=None, force: bool = False, register: bool = True) -> tuple[int, list[str]]:
    """Rebuild the course in place: write what changed, remove generated files no source makes, and
    register the assignments in the course's gradebook. A notebook changed since it was built, or a file
    the build did not make, is kept (unless ``force``). Returns the number of generated files and the
    ones kept."""
    from .grading import nbgrader_api

    db_url = nbgrader_api.coursedir(course.root).db_url if register else None
    kept = []
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp:
        fresh = Path(tmp)
        build(course, fresh, progress, db_url)
        expected = generated_files(fresh)
        for rel in sorted(generated_files(course.root) - expected):
            path = course.root / rel
            if force or made_by_build(rel, path):
                path.unlink()
            else:
                kept.append(rel)
        for rel in sorted(expected):
            target = course.root / rel
            if not target.exists() or not filecmp.cmp(fresh / rel, target, shallow=False):
                if target.exists() and not force and edited(target):
                    kept.append(rel)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(fresh / rel, target)
        return len(expected), sorted(kept)
