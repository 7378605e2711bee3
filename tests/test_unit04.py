"""Unit 4's test cells leave no helper behind, however they end (tests/test_unit01.py's check, on unit 4): an
autograd oracle or a real-training helper left in the notebook's namespace would answer the exercises after
it."""

import inspect
import types

import nbformat
import pytest

from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, segments
from tests.test_test_points import Exercise, free_names
from tests.test_unit01 import english, negated, raising, run_cell  # noqa: F401 - english is an autouse fixture

COURSE = Course.find()
SOURCE = COURSE.source / "unit04" / "exercises.ipynb"

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason="unit 4 is not in this course")


@pytest.fixture(scope="module")
def exercise():
    return Exercise(SOURCE)


TESTS = (
    [nbgrader_meta(c)["grade_id"] for c in nbformat.read(SOURCE, 4).cells if is_test(c)]
    if SOURCE.exists()
    else []
)


@pytest.mark.parametrize("grade_id", TESTS)
@pytest.mark.parametrize("breaking", [raising, negated])
def test_helpers_are_gone_however_the_cell_ends(exercise, grade_id, breaking):
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    names = sorted(free_names(cell.source) & exercise.solutions)
    assert names, f"{grade_id}: no student function in the cell"
    pieces = len(segments(cell.source))
    assert pieces >= 3, f"{grade_id}: visible, hidden and closing pieces expected"
    for broken_from in range(pieces + 1):
        left, raised = run_cell(exercise, cell.source, names, broken_from, breaking)
        if breaking is raising:  # the student is called in every piece but the closing one
            assert raised == (broken_from < pieces - 1), f"{grade_id}, from piece {broken_from}: {raised=}"
        usable = sorted(
            name
            for name, value in left.items()
            if inspect.isroutine(value) or inspect.isclass(value) or isinstance(value, types.ModuleType)
        )
        assert not usable, f"{grade_id}, broken from piece {broken_from}: {usable} left behind"
