"""Feedback never shows hidden tests, whatever a student did to their cells' nbgrader metadata.

For every assignment in ``source/``: submissions whose test cells lost their metadata, were relabelled
as answers, turned into markdown, had garbage metadata, swapped grade ids with answers, or had their
metadata moved onto cells of the student's own, go through real ``course grade`` and ``course
feedback``. No page may contain a line of any hidden-test block, nor the markers. The graded copies
in ``autograded/`` stay what formgrader expects: the gradebook's cells and metadata, hidden tests kept
(that copy is the instructor's). And feedback is decided from the gradebook, not from the metadata of
the graded copy: a graded copy stripped of all metadata still gives pages without hidden tests.
"""

from __future__ import annotations

import copy
import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.grading.cells import HIDDEN_BEGIN
from tests.conftest import ROOT
from tests.nbcells import hidden_only_lines

pytestmark = pytest.mark.grading

COURSE = Course(ROOT)
LIMITS = ["--cell-timeout", "30", "--timeout", "300"]


def course(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "autograder.cli", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr


def meta(cell) -> dict:
    value = cell.metadata.get("nbgrader", {})
    return value if isinstance(value, dict) else {}


def is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(meta(cell).get("grade")) and not meta(cell).get("solution")


def answered(assignment: str, name: str):
    """The release notebook answered with the source's solutions (so hidden tests run, and pass)."""
    source = nbformat.read(COURSE.source / assignment / name, as_version=4)
    solutions = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}
    nb = nbformat.read(COURSE.release / assignment / name, as_version=4)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = solutions[meta(cell)["grade_id"]]
    return nb


def to_markdown(cell) -> None:
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def mixed(nb):
    """Each test cell attacked its own way, in turn."""
    attacks = [
        lambda c: c.metadata.pop("nbgrader"),
        lambda c: meta(c).update(solution=True, locked=False),
        to_markdown,
        lambda c: c.metadata.update(nbgrader="not a mapping"),
        lambda c: meta(c).update(grade_id=["not", "a", "name"]),
        lambda c: meta(c).update(grade=False, locked=False),
        lambda c: meta(c).update(points=1000),
    ]
    for number, cell in enumerate(c for c in nb.cells if is_test(c)):
        attacks[number % len(attacks)](cell)
    return nb


def stripped(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def swapped(nb):
    """Test and answer cells trade grade ids; the answers are then claimed as locked tests."""
    tests = [c for c in nb.cells if is_test(c)]
    answers = [c for c in nb.cells if meta(c).get("solution")]
    for test, answer in zip(tests, answers, strict=False):
        test_id, answer_id = meta(test)["grade_id"], meta(answer)["grade_id"]
        meta(test)["grade_id"], meta(answer)["grade_id"] = answer_id, test_id
        meta(answer).update(solution=False, grade=True, locked=True)
    return nb


def moved(nb):
    """Every test's metadata moved onto a cell of the student's own, put first; the tests stripped."""
    own = []
    for cell in nb.cells:
        if is_test(cell):
            decoy = nbformat.v4.new_code_cell("print('mine')")
            decoy.metadata["nbgrader"] = {**copy.deepcopy(meta(cell)), "solution": True, "locked": False}
            own.append(decoy)
            cell.metadata.pop("nbgrader")
    nb.cells = own + nb.cells
    return nb


ATTACKS = {"mixed": mixed, "stripped": stripped, "swapped": swapped, "moved": moved}


def leaks(page: Path, hidden: set[str]) -> list[str]:
    text = html.unescape(page.read_text(encoding="utf-8"))
    found = [line for line in hidden if line in text]
    return found + [m for m in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS") if m in text]


@pytest.fixture(scope="module", params=COURSE.assignments())
def attacked(request, tmp_path_factory):
    assignment = request.param
    class_dir = tmp_path_factory.mktemp(f"leak-{assignment}")
    shutil.copy(COURSE.config, class_dir)
    shutil.copytree(COURSE.source / assignment, class_dir / "source" / assignment)
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=WARN"],
        cwd=class_dir,
        check=True,
        capture_output=True,
    )
    names = sorted(p.name for p in (COURSE.source / assignment).glob("*.ipynb"))
    for student, attack in ATTACKS.items():
        folder = class_dir / "submitted" / student / assignment
        folder.mkdir(parents=True)
        for name in names:
            nbformat.write(attack(answered(assignment, name)), folder / name)
    course("grade", assignment, *LIMITS, cwd=class_dir)
    course("feedback", assignment, cwd=class_dir)
    return assignment, class_dir, names


def test_no_feedback_page_shows_a_hidden_test(attacked):
    assignment, class_dir, names = attacked
    hidden = hidden_only_lines(assignment)
    assert hidden, f"{assignment} has hidden tests"
    for student in ATTACKS:
        for name in names:
            page = class_dir / "feedback" / student / assignment / name.replace(".ipynb", ".html")
            assert not leaks(page, hidden), (student, name, leaks(page, hidden)[:3])


def test_graded_copies_are_the_gradebooks_cells(attacked):
    """What formgrader reads: every graded cell with the gradebook's metadata, each test cell with the
    gradebook's source (hidden tests included: that copy is the instructor's), each id once."""
    assignment, class_dir, names = attacked
    with Gradebook(f"sqlite:///{class_dir / 'gradebook.db'}") as gb:
        for name in names:
            notebook = gb.find_notebook(name.replace(".ipynb", ""), assignment)
            grades = {c.name: c.max_score for c in notebook.grade_cells}
            solutions = {c.name for c in notebook.solution_cells}
            sources = {c.name: c for c in notebook.source_cells}
            for student in ATTACKS:
                graded = class_dir / "autograded" / student / assignment / name
                cells = [c for c in nbformat.read(graded, as_version=4).cells if meta(c).get("grade_id")]
                ids = [meta(c)["grade_id"] for c in cells]
                assert sorted(ids) == sorted(sources), (student, name)
                for cell in cells:
                    gid = meta(cell)["grade_id"]
                    assert cell.cell_type == sources[gid].cell_type
                    assert bool(meta(cell).get("grade")) == (gid in grades)
                    assert bool(meta(cell).get("solution")) == (gid in solutions)
                    assert bool(meta(cell).get("locked")) == bool(sources[gid].locked)
                    if gid in grades:
                        assert float(meta(cell)["points"]) == grades[gid]
                    if is_test(cell):
                        assert cell.source == sources[gid].source


def test_feedback_is_decided_by_the_gradebook_not_the_graded_copy(attacked):
    """Even a graded copy whose cells have no nbgrader metadata at all gives pages without hidden tests."""
    assignment, class_dir, names = attacked
    for student in ATTACKS:
        for name in names:
            graded = class_dir / "autograded" / student / assignment / name
            nb = nbformat.read(graded, as_version=4)
            assert any(HIDDEN_BEGIN in c.source for c in nb.cells)
            graded.chmod(0o644)
            nbformat.write(stripped(nb), graded)
    course("feedback", assignment, cwd=class_dir)
    hidden = hidden_only_lines(assignment)
    for student in ATTACKS:
        for name in names:
            page = class_dir / "feedback" / student / assignment / name.replace(".ipynb", ".html")
            assert not leaks(page, hidden), (student, name, leaks(page, hidden)[:3])
