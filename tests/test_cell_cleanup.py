"""The test cells of units 1, 2, 3, 4 and 6 leave no helper behind, however they end: an autograd oracle
(reference_gradient, a cell's check function) or a real-training helper left in the notebook's namespace would
answer the exercises after it.

Each test cell runs piece by piece, as the grader runs it (its visible and hidden pieces compiled on their
own, the first error ending the cell), with the reference solution up to a piece and, from that piece on, a
student answer that raises or returns wrong values. After the cell, whether it passed or not, no name it
bound may be a function, a class or a module.

An answer is a function or a class (unit 6's SquaredDistance, a torch.autograd.Function): a class is broken
in every function it holds. A prediction (True or False, unit 3's Predictions) is broken into its opposite.
Where a cell turns the answer's exception into a failed part (SquaredDistance's ``called``), the raising run
makes a failed part fail the cell at once (``Parts.strict``, as tests/test_test_points.py does), so that the
cell's guards run there too; the wrong values run as the grader does, a failed part letting the cell go on.

An answer the rules refuse (autograd where a derivation is asked, ...) ends the cell at its rule check, at the
top of the cell: what the cell bound before it (its imports from the course's package, which the check must
see as the tests' names) goes too.
"""

import ast
import contextlib
import inspect
import io
import types

import nbformat
import pytest
import torch

from autograder import Parts
from autograder.checker import CheckFailed
from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, segments
from autograder.rules import SHORT_FORMS
from tests.test_test_points import Exercise, free_names

COURSE = Course.find()
# the units whose test cells guard every piece that calls the student
UNITS = ("unit01", "unit02", "unit03", "unit04", "unit06")
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


def opposite(value):
    """A prediction's other answer, a number's or a tensor's negation; anything else (None) as it is."""
    if isinstance(value, bool):
        return not value
    return -value if isinstance(value, (int, float, torch.Tensor)) else value


def negated(function):
    def student(*args, **kwargs):
        result = function(*args, **kwargs)
        values = result if isinstance(result, tuple) else (result,)
        wrong = tuple(opposite(v) for v in values)
        return wrong if isinstance(result, tuple) else wrong[0]

    return student


def broken(breaking, answer):
    """The student's answer broken: a function, or a class in each function it holds (static, class and plain
    methods), made again on its bases (to the rules, a subclass of the answer reads as an import of it)."""
    if not inspect.isclass(answer):
        return breaking(answer)
    held = {}
    for key, value in vars(answer).items():
        if isinstance(value, (staticmethod, classmethod)):
            held[key] = type(value)(breaking(value.__func__))
        elif inspect.isfunction(value):
            held[key] = breaking(value)
    assert held, f"{answer.__name__}: no function to break"
    return type(answer)(answer.__name__, answer.__bases__, held)


def solution_classes(exercise) -> set[str]:
    """The classes the solution cells define (Exercise.solutions holds their functions and assignments)."""
    return {
        node.name
        for cell in exercise.nb.cells
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution")
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.ClassDef)
    }


def run_cell(exercise, code, names, broken_from, breaking, replaced=None):
    """The cell's pieces in a copy of the namespace (``replaced``'s names replaced), the student's functions
    broken from piece ``broken_from`` on; the names the cell bound, and whether it raised."""
    ns = dict(exercise.namespace, **(replaced or {}))
    before = set(ns)
    raised = False
    with contextlib.redirect_stdout(io.StringIO()):
        for number, (_, piece) in enumerate(segments(code)):
            if number == broken_from:
                ns.update({name: broken(breaking, exercise.namespace[name]) for name in names})
            try:
                exec(compile(piece, f"<piece {number}>", "exec"), ns)
            except Exception:  # noqa: BLE001 - a failing cell: what it leaves behind is the question
                raised = True
                break
    return {name: ns[name] for name in set(ns) - before - {"__builtins__"}}, raised


def usable(left):
    """The names among those a cell left behind whose values could answer an exercise: functions, classes,
    modules."""
    return sorted(
        name
        for name, value in left.items()
        if inspect.isroutine(value) or inspect.isclass(value) or isinstance(value, types.ModuleType)
    )


TESTS = [
    (unit, nbgrader_meta(c)["grade_id"])
    for unit, source in SOURCES.items()
    if source.exists()
    for c in nbformat.read(source, 4).cells
    if is_test(c)
]


@pytest.mark.parametrize(("unit", "grade_id"), TESTS)
@pytest.mark.parametrize("breaking", [raising, negated])
def test_helpers_are_gone_however_the_cell_ends(unit, grade_id, breaking, monkeypatch):
    exercise = exercise_of(unit)
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    names = sorted(free_names(cell.source) & (exercise.solutions | solution_classes(exercise)))
    monkeypatch.setattr(Parts, "strict", breaking is raising)  # the raising run: a failed part fails the cell
    assert names, f"{grade_id}: no student function in the cell"
    pieces = len(segments(cell.source))
    assert pieces >= 3, f"{grade_id}: visible, hidden and closing pieces expected"
    for broken_from in range(pieces + 1):
        left, raised = run_cell(exercise, cell.source, names, broken_from, breaking)
        if breaking is raising:  # the student is called in every piece but the closing one
            assert raised == (broken_from < pieces - 1), (
                f"{grade_id}, broken from piece {broken_from}: {raised=}"
            )
        left_behind = usable(left)
        assert not left_behind, f"{grade_id}, broken from piece {broken_from}: {left_behind} left behind"


def refusing(*args, **kwargs):
    raise CheckFailed("the rules refuse the answer")


@pytest.mark.parametrize(("unit", "grade_id"), TESTS)
def test_helpers_are_gone_when_a_rule_refuses_the_answer(unit, grade_id):
    exercise = exercise_of(unit)
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    rules = {name: refusing for name in ("assert_rules", *SHORT_FORMS) if name in exercise.namespace}
    left, raised = run_cell(exercise, cell.source, [], None, None, replaced=rules)
    assert raised, f"{grade_id}: no rule check refused the answer"
    left_behind = usable(left)
    assert not left_behind, f"{grade_id}, refused by its rule check: {left_behind} left behind"
