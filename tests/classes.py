"""One helper layer for the tests that play an instructor's class: commands, a class folder, the
course's notebooks answered or blank, submissions, and the scores nbgrader's gradebook holds.

A class folder is what an instructor has after ``nbgrader generate_assignment``: the course's config and
``source/``, the gradebook and ``release/``. Generating is slow (nbgrader's imports and a fresh gradebook
cost about ten seconds a call), so each set of assignments is generated once per test run, by whichever
pytest-xdist worker needs it first under a file lock, and every later class is a copy of that folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from filelock import FileLock
from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.grading.cells import nbgrader_meta

ROOT = Path(__file__).resolve().parent.parent
COURSE = Course(ROOT)

# ------------------------------------------------------------------------------------------ commands


def run(
    command: list[str], cwd: Path, *, env: dict | None = None, timeout: float = 1200, check: bool = True
) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def nbgrader(*args: str, cwd: Path, check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess:
    """A real nbgrader command in ``cwd`` (asserted to succeed unless ``check=False``)."""
    level = ["--log-level=WARN"] if quiet else []
    return run([sys.executable, "-m", "nbgrader", *args, *level], cwd, check=check)


def course(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 1200, check: bool = False
) -> subprocess.CompletedProcess:
    """The ``course`` command of this checkout, run in ``cwd`` (not asserted unless ``check=True``)."""
    env = {**(env if env is not None else os.environ), "PYTHONPATH": str(ROOT)}
    return run([sys.executable, "-m", "autograder.cli", *args], cwd, env=env, timeout=timeout, check=check)


# ---------------------------------------------------------------------------------------- a class


def _generated(assignments: tuple[str, ...], cache: Path) -> Path:
    """The class folder for ``assignments``, generated once per test run (shared by xdist workers)."""
    template = cache / ("class-" + "-".join(assignments))
    with FileLock(str(template) + ".lock"):
        if not (template / "gradebook.db").exists():
            shutil.rmtree(template, ignore_errors=True)
            building = cache / (template.name + ".building")
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir(parents=True)
            shutil.copy(COURSE.config, building)
            shutil.copytree(COURSE.source, building / "source")
            for assignment in assignments:
                nbgrader("generate_assignment", assignment, "--force", cwd=building)
            building.rename(template)
    return template


def new_class(path: Path, assignments: list[str], cache: Path) -> Path:
    """A fresh class folder at ``path`` with ``assignments`` generated (gradebook and release)."""
    shutil.copytree(_generated(tuple(assignments), cache), path, dirs_exist_ok=True)
    return path


def template_cache(tmp_path_factory) -> Path:
    """The folder every xdist worker of this run shares (its basetemp's parent under xdist)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "generated-classes"
    folder.mkdir(exist_ok=True)
    return folder


# ----------------------------------------------------------------------------------- notebooks


def source_nb(assignment: str, name: str = "exercises.ipynb") -> nbformat.NotebookNode:
    return nbformat.read(COURSE.source / assignment / name, as_version=4)


def release_nb(assignment: str, name: str = "exercises.ipynb") -> nbformat.NotebookNode:
    return nbformat.read(COURSE.release / assignment / name, as_version=4)


def notebook_names(assignment: str) -> list[str]:
    return sorted(p.name for p in (COURSE.source / assignment).glob("*.ipynb"))


POINTS = re.compile(r"\s*\(\d+\s*(점|points?)[^)]*\)$")


def exercise_titles(nb, lang: str) -> dict[str, str]:
    """Each test cell's exercise title in ``lang``: the last ``lang-<lang>`` heading above it, points cut."""
    found, heading = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and f"lang-{lang}" in cell.metadata.get("tags", []):
            lines = [line for line in cell.source.splitlines() if line.startswith("#")]
            heading = POINTS.sub("", lines[-1].lstrip("#").strip()) if lines else heading
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found[meta["grade_id"]] = heading
    return found


# unit 1's staged sigmoid with torch.autograd in place of the derivation: right by the numbers, a shortcut
AUTOGRAD_STAGED_SIGMOID = (
    "def staged_sigmoid_backward(w, x, b):\n"
    "    w_, x_ = w.clone().requires_grad_(), x.clone().requires_grad_()\n"
    "    b_ = torch.tensor(float(b), dtype=torch.float64, requires_grad=True)\n"
    "    z = torch.dot(w_, x_) + b_\n"
    "    n = -z\n"
    "    e = torch.exp(n)\n"
    "    d = 1 + e\n"
    "    f = 1 / d\n"
    "    for t in (z, n, e, d):\n"
    "        t.retain_grad()\n"
    "    f.backward()\n"
    "    grads = (d.grad.item(), e.grad.item(), n.grad.item(), z.grad.item())\n"
    "    return (f.item(), *grads, w_.grad, x_.grad, b_.grad.item())\n"
)


def solutions(assignment: str, name: str = "exercises.ipynb") -> dict[str, str]:
    """The source's answer for each solution cell, by grade id."""
    return {
        nbgrader_meta(c)["grade_id"]: c.source
        for c in source_nb(assignment, name).cells
        if nbgrader_meta(c).get("solution")
    }


def answered(
    assignment: str,
    name: str = "exercises.ipynb",
    *,
    answers: str = "all",
    change: dict[str, str] | None = None,
    before: dict[str, str] | None = None,
    release: nbformat.NotebookNode | None = None,
) -> nbformat.NotebookNode:
    """The release as a student hands it in: solution cells answered with the source's solutions
    (``answers="all"``) or left blank (``"none"``), some replaced (``change``), and cells of the
    student's own inserted before some cells (``before``). ``release`` is another release to answer
    (a Korean-only one, say)."""
    answer = solutions(assignment, name)
    nb = nbformat.from_dict(release if release is not None else release_nb(assignment, name))
    cells = []
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if before and gid in before:
            cells.append(nbformat.v4.new_code_cell(before[gid]))
        if nbgrader_meta(cell).get("solution"):
            if answers == "all":
                cell.source = answer[gid]
            if change and gid in change:
                cell.source = change[gid]
        cells.append(cell)
    nb.cells = cells
    return nb


def submit(class_dir: Path, student: str, assignment: str, files: dict[str, object]) -> Path:
    """Hand in ``files`` (name → notebook, text or bytes) as ``student``'s ``assignment``."""
    folder = class_dir / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for filename, content in files.items():
        if isinstance(content, bytes):
            (folder / filename).write_bytes(content)
        elif isinstance(content, str):
            (folder / filename).write_text(content, encoding="utf-8")
        else:
            nbformat.write(content, folder / filename)
    return folder


# ------------------------------------------------------------------------------------ the gradebook


def gradebook(class_dir: Path) -> Gradebook:
    return Gradebook(f"sqlite:///{class_dir / 'gradebook.db'}")


def scores(class_dir: Path, assignment: str) -> dict[str, tuple[float, float]]:
    """Each student's (score, max score) for ``assignment``."""
    with gradebook(class_dir) as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def cell_scores(
    class_dir: Path, assignment: str, student: str, notebook: str = "exercises"
) -> dict[str, tuple[float, float]]:
    """(score, max score) of each autograded cell of one student's notebook."""
    with gradebook(class_dir) as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades if g.cell_type == "code"}


def totals(class_dir: Path, assignment: str) -> dict[str, float]:
    """Each student's total score for ``assignment``."""
    return {student: score for student, (score, _) in scores(class_dir, assignment).items()}
