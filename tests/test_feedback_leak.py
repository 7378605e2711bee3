"""Feedback never shows hidden tests, whatever a student did to their cells' nbgrader metadata.

For every assignment in ``source/``: submissions whose test cells lost their metadata, were relabelled
as answers, turned into markdown, had garbage metadata, swapped grade ids with answers, or had their
metadata moved onto cells of the student's own, go through real ``course grade`` and ``course
feedback``. No page may contain a line of any hidden-test block, nor the markers. The graded copies
in ``autograded/`` stay what formgrader expects: the gradebook's cells and metadata, hidden tests kept
(that copy is the instructor's). And feedback is decided from the gradebook, not from the metadata of
the graded copy: a graded copy stripped of all metadata still gives pages without hidden tests.

The same class holds the sources handed in as they are (hidden tests included) and the blank release:
every assignment's sources get every autograded point under ``course grade``, and the release none.
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path

import nbformat
import pytest

from autograder.grading.cells import HIDDEN_BEGIN
from tests.classes import COURSE, answered, course, gradebook, new_class, notebook_names, scores, submit
from tests.nbcells import hidden_only_lines

pytestmark = pytest.mark.grading

LIMITS = ["--cell-timeout", "30", "--timeout", "300"]


def meta(cell) -> dict:
    value = cell.metadata.get("nbgrader", {})
    return value if isinstance(value, dict) else {}


def is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(meta(cell).get("grade")) and not meta(cell).get("solution")


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
def attacked(request, tmp_path_factory, class_cache):
    """The attacked submissions, with the sources handed in as they are and the blank release, graded by
    ``course grade`` and given feedback by ``course feedback``."""
    assignment = request.param
    class_dir = new_class(tmp_path_factory.mktemp(f"leak-{assignment}"), [assignment], class_cache)
    names = notebook_names(assignment)
    for student, attack in ATTACKS.items():
        submit(class_dir, student, assignment, {name: attack(answered(assignment, name)) for name in names})
    for student, folder in (("solution", COURSE.source), ("blank", COURSE.release)):
        submit(class_dir, student, assignment, {n: (folder / assignment / n).read_bytes() for n in names})
    course("grade", assignment, *LIMITS, cwd=class_dir, check=True)
    course("feedback", assignment, cwd=class_dir, check=True)
    return assignment, class_dir, names


def test_sources_get_every_autograded_point_and_releases_none(attacked):
    """What stock ``nbgrader autograde`` gives the sources and the blank release (tests/test_mutations.py),
    ``course grade`` gives, on every assignment."""
    assignment, class_dir, _ = attacked
    with gradebook(class_dir) as gb:
        auto_max = sum(
            cell.max_score
            for nb in gb.find_assignment(assignment).notebooks
            for cell in nb.grade_cells
            if cell.cell_type == "code"
        )
    got = scores(class_dir, assignment)
    record = class_dir / "course_results" / assignment / "solution.json"
    assert got["solution"][0] == auto_max > 0, json.loads(record.read_text())
    assert got["blank"][0] == 0


def test_no_feedback_page_shows_a_hidden_test(attacked):
    assignment, class_dir, names = attacked
    hidden = hidden_only_lines(assignment)
    assert hidden, f"{assignment} has hidden tests"
    for student in [*ATTACKS, "solution", "blank"]:  # the sources hold the hidden tests as handed in
        for name in names:
            page = class_dir / "feedback" / student / assignment / name.replace(".ipynb", ".html")
            assert not leaks(page, hidden), (student, name, leaks(page, hidden)[:3])


def test_graded_copies_are_the_gradebooks_cells(attacked):
    """What formgrader reads: every graded cell with the gradebook's metadata, each test cell with the
    gradebook's source (hidden tests included: that copy is the instructor's), each id once."""
    assignment, class_dir, names = attacked
    with gradebook(class_dir) as gb:
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
    course("feedback", assignment, cwd=class_dir, check=True)
    hidden = hidden_only_lines(assignment)
    for student in ATTACKS:
        for name in names:
            page = class_dir / "feedback" / student / assignment / name.replace(".ipynb", ".html")
            assert not leaks(page, hidden), (student, name, leaks(page, hidden)[:3])
