"""The test cells of units 1 and 4 leave no helper behind, however they end: an autograd oracle
(reference_gradient, a cell's check function) or a real-training helper left in the notebook's namespace would
answer the exercises after it.

Each test cell runs piece by piece, as the grader runs it (its visible and hidden pieces compiled on their
own, the first error ending the cell), with the reference solution up to a piece and, from that piece on, a
student function that raises or returns wrong values. After the cell, whether it passed or not, no name it
bound may be a function, a class or a module.
"""

import contextlib
import inspect
import io
import types

import nbformat
import pytest
import torch

from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, segments
from tests.test_test_points import Exercise, free_names

COURSE = Course.find()
UNITS = ("unit01", "unit04")  # the units whose test cells guard every piece that calls the student
SOURCES = {unit: COURSE.source / unit / "exercises.ipynb" for unit in UNITS}
EXERCISES: dict[str, Exercise] = {}


def exercise_of(unit: str) -> Exercise:
    if unit not in EXERCISES:
        EXERCISES[unit] = Exercise(SOURCES[unit])
    return EXERCISES[unit]


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")


def raising(function):
    def student(*args, **kwargs):
        raise RuntimeError("the student's function fails")

    return student


def negated(function):
    def student(*args, **kwargs):
        result = function(*args, **kwargs)
        values = result if isinstance(result, tuple) else (result,)
        wrong = tuple(-v if isinstance(v, (int, float, torch.Tensor)) else v for v in values)
        return wrong if isinstance(result, tuple) else wrong[0]

    return student


def run_cell(exercise, code, names, broken_from, breaking):
    """The cell's pieces in a copy of the namespace, the student's functions broken from piece
    ``broken_from`` on; the names the cell bound, and whether it raised."""
    ns = dict(exercise.namespace)
    before = set(ns)
    raised = False
    with contextlib.redirect_stdout(io.StringIO()):
        for number, (_, piece) in enumerate(segments(code)):
            if number == broken_from:
                ns.update({name: breaking(exercise.namespace[name]) for name in names})
            try:
                exec(compile(piece, f"<piece {number}>", "exec"), ns)
            except Exception:  # noqa: BLE001 - a failing cell: what it leaves behind is the question
                raised = True
                break
    return {name: ns[name] for name in set(ns) - before - {"__builtins__"}}, raised


TESTS = [
    (unit, nbgrader_meta(c)["grade_id"])
    for unit, source in SOURCES.items()
    if source.exists()
    for c in nbformat.read(source, 4).cells
    if is_test(c)
]


@pytest.mark.parametrize(("unit", "grade_id"), TESTS)
@pytest.mark.parametrize("breaking", [raising, negated])
def test_helpers_are_gone_however_the_cell_ends(unit, grade_id, breaking):
    exercise = exercise_of(unit)
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    names = sorted(free_names(cell.source) & exercise.solutions)
    assert names, f"{grade_id}: no student function in the cell"
    pieces = len(segments(cell.source))
    assert pieces >= 3, f"{grade_id}: visible, hidden and closing pieces expected"
    for broken_from in range(pieces + 1):
        left, raised = run_cell(exercise, cell.source, names, broken_from, breaking)
        if breaking is raising:  # the student is called in every piece but the closing one
            assert raised == (broken_from < pieces - 1), (
                f"{grade_id}, broken from piece {broken_from}: {raised=}"
            )
        usable = sorted(
            name
            for name, value in left.items()
            if inspect.isroutine(value) or inspect.isclass(value) or isinstance(value, types.ModuleType)
        )
        assert not usable, f"{grade_id}, broken from piece {broken_from}: {usable} left behind"
