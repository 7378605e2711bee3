"""Stock nbgrader on every assignment, and the mutation suite under it: with real ``nbgrader autograde``,
``generate_feedback`` and ``export``, the reference solution gets every autograded point (a written answer
waits for the instructor) and the blank release none; every catalogued mistake, applied to the reference
solution of every graded exercise, loses points, and the graded notebook (what nbgrader's feedback
shows) names that mistake.

Submissions are generated: one student per mistake, every exercise of the assignment mutated at once.
A generic mistake wraps each reference function so that every number it returns has its sign flipped;
registered mistakes replace the function by the hand-written wrong implementation that
``tests/test_test_points.py`` keeps for each id an exercise registers with ``mistakes=``, or plant it in
the source of a solution cell (its ``EDITS``, for mistakes inside unit 5's ``Value`` class).

The other generic mistakes (×2, ×½, ×3, transposed) are not run through nbgrader again: a student costs
about 6 s of stock autograde, and ``tests/test_test_points.py`` already fails each of them on every
visible and hidden part of every graded cell, in process, and checks that the message names it; the
sign flip shows the naming end to end, through nbgrader's graded notebook and feedback.
Of the mistakes planted in unit 5's engine, one per test cell is run through nbgrader, for the same reason
(a unit 5 student costs some ten seconds); the same in-process test fails and names every one of them.
"""

from __future__ import annotations

import ast
import csv
import html
import inspect
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading.cells import is_test, nbgrader_meta
from tests.classes import COURSE, cell_scores, gradebook, nbgrader, new_class, scores, submit
from tests.test_rules import rule_calls
from tests.test_test_points import EDITS, MUTANTS, NOT_NUMERIC, named

pytestmark = pytest.mark.nbgrader

GENERIC = {  # student: (expression on a float64 tensor v, the mistake ids that may be named)
    "sign": ("-v", {"sign_flipped"}),
}

# The wrapper keeps the rules its answer is judged by (tests/test_rules.py): no torch (unit 3's predictions),
# no loop or comprehension (unit 2's layer; unit 4's closed forms, where functools.reduce is a loop too), no
# recursion (unit 5's sort). A returned tuple's values are mutated one by one, written out up to LONGEST.
LONGEST = 32
WRAPPER = """

import functools as _functools

import numpy as _numpy


def _mutated(value):
    if value is None or isinstance(value, (bool, str, dict)):
        return value
    if hasattr(value, "detach"):  # a tensor keeps its kind
        v = value.detach().clone()
        return {expression}
    try:
        v = _numpy.asarray(value, dtype=_numpy.float64)
    except (TypeError, ValueError):
        return value
    v = {expression}
    return v.item() if v.ndim == 0 else v.tolist()


_reference_{name} = {name}


def {name}(*args, **kwargs):
    result = _reference_{name}(*args, **kwargs)
    if isinstance(result, tuple):
        assert len(result) <= LONGEST, "a longer tuple than the wrapper mutates"
        padded = (*result, *[None] * LONGEST)
        return (EACH)[: len(result)]
    return _mutated(result)
""".replace("EACH", ", ".join(f"_mutated(padded[{index}])" for index in range(LONGEST))).replace(
    "LONGEST", str(LONGEST)
)
# unit 5's engine is written with float and math only (its own_engine rule): numbers and lists of numbers,
# mutated without numpy, and still without a comprehension or recursion (functools.reduce, a loop to the loops
# rule, is fine there: unit 5 refuses none)
ENGINE_WRAPPER = WRAPPER.replace(
    """import numpy as _numpy


def _mutated(value):
    if value is None or isinstance(value, (bool, str, dict)):
        return value
    if hasattr(value, "detach"):  # a tensor keeps its kind
        v = value.detach().clone()
        return {expression}
    try:
        v = _numpy.asarray(value, dtype=_numpy.float64)
    except (TypeError, ValueError):
        return value
    v = {expression}
    return v.item() if v.ndim == 0 else v.tolist()
""",
    """def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mutated(value):
    if _number(value):
        v = float(value)
        return {expression}
    if isinstance(value, list) and _functools.reduce(lambda numbers, v: numbers and _number(v), value, True):
        return _functools.reduce(lambda done, v: [*done, {expression}], value, [])
    return value
""",
)
assert ENGINE_WRAPPER != WRAPPER


def builder_call(build) -> tuple[str, str]:
    """Source that makes the mutant function from a ``build(ns)`` of tests/test_test_points.py."""
    qualified = build.__qualname__
    if "<locals>" not in qualified:
        return f"{inspect.getsource(build)}\n", f"{build.__name__}(globals())"
    outer = qualified.split(".")[0]
    module = sys.modules[build.__module__]
    values = {n: c.cell_contents for n, c in zip(build.__code__.co_freevars, build.__closure__, strict=True)}
    arguments = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return f"{inspect.getsource(getattr(module, outer))}\n", f"{outer}({arguments})(globals())"


def functions_of(cell_source: str) -> list[str]:
    return [n.name for n in ast.parse(cell_source).body if isinstance(n, ast.FunctionDef)]


def submissions(assignment: str) -> tuple[dict[str, dict], dict[str, dict[str, set[str]]]]:
    """Each student's notebooks, and per student the test cells that must lose points → ids to name."""
    source = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    release = nbformat.read(COURSE.release / assignment / "exercises.ipynb", as_version=4)
    solutions = {
        nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")
    }
    tests = [c for c in source.cells if is_test(c)]
    # which solution cell defines what each test cell calls
    defines = {gid: functions_of(code) for gid, code in solutions.items() if code.lstrip()[:4] == "def "}
    tested_by = {}
    for cell in tests:
        names = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)}
        for gid, functions in defines.items():
            if names & set(functions):
                tested_by.setdefault(gid, []).append(nbgrader_meta(cell)["grade_id"])

    def notebook(change: dict[str, str]) -> nbformat.NotebookNode:
        nb = nbformat.from_dict(release)
        for cell in nb.cells:
            gid = nbgrader_meta(cell).get("grade_id")
            if nbgrader_meta(cell).get("solution"):
                cell.source = change.get(gid, solutions[gid])
        return nb

    engine = {answer for c in tests for answer, rules in rule_calls(c.source) if "own_engine" in rules}
    students, expected = {"reference": notebook({})}, {"reference": {}}
    for student, (expression, ids) in GENERIC.items():
        change, lose = {}, {}
        for gid, functions in defines.items():
            wrapper = ENGINE_WRAPPER if engine else WRAPPER  # one engine: every cell of it under its rule
            wrappers = "".join(wrapper.format(name=f, expression=expression) for f in functions)
            change[gid] = solutions[gid] + wrappers
            for test in tested_by.get(gid, []):
                if test in NOT_NUMERIC:
                    continue
                lose[test] = ids
        students[student], expected[student] = notebook(change), lose
    registered = {t: m for t, m in MUTANTS.items() if t in {nbgrader_meta(c)["grade_id"] for c in tests}}
    for round_ in range(max((len(b) for m in registered.values() for b in m.values()), default=0)):
        change, lose = {}, {}
        for test, by_id in registered.items():
            for key, builds in by_id.items():
                if round_ >= len(builds):
                    continue
                (gid,) = [g for g, tests_ in tested_by.items() if test in tests_]
                (function,) = defines[gid]
                definition, call = builder_call(builds[round_])
                # the builder is handed the reference function by name, not globals(): reading the
                # namespace is code the rules cannot check, and the whole cell is the answer
                call = call.replace("(globals())", f"({{{function!r}: {function}}})")
                change[gid] = f"{solutions[gid]}\n\n{definition}\n{function} = {call}\n"
                lose[test] = {key}
        students[f"registered{round_}"], expected[f"registered{round_}"] = notebook(change), lose
    # mistakes planted in a solution cell's source (unit 5's engine): one student per edit
    planted: dict = {}
    for test, by_id in EDITS.items():
        if test in {nbgrader_meta(c)["grade_id"] for c in tests}:
            for key, edits in by_id.items():
                for edit in edits:
                    planted.setdefault(edit, {})[test] = {key}
    # through stock nbgrader, one planted edit per test cell it must fail (a student costs some ten seconds of
    # autograde on unit 5); tests/test_test_points.py fails and names every edit on every part, in process
    covered: set[str] = set()
    chosen = {}
    for edit, lose in planted.items():
        if set(lose) - covered:
            chosen[edit] = lose
            covered |= set(lose)
    for number, (edit, lose) in enumerate(chosen.items()):
        change = {edit.cell: edit.apply(solutions[edit.cell])}
        students[f"planted{number}"], expected[f"planted{number}"] = notebook(change), lose
    return students, expected


@pytest.fixture(scope="module", params=COURSE.assignments())
def mutated(request, tmp_path_factory, class_cache):
    """One class per assignment: the reference solution, the blank release and one student per mistake,
    autograded and given feedback by stock nbgrader."""
    assignment = request.param
    work = new_class(tmp_path_factory.mktemp(f"mutants-{assignment}"), [assignment], class_cache)
    students, expected = submissions(assignment)
    for student, nb in students.items():
        submit(work, student, assignment, {"exercises.ipynb": nb})
    blank = {p.name: p.read_bytes() for p in (COURSE.release / assignment).glob("*.ipynb")}
    submit(work, "blank", assignment, blank)
    nbgrader("autograde", assignment, "--force", cwd=work)
    nbgrader("generate_feedback", assignment, "--force", cwd=work)
    return assignment, work, expected


def points(assignment: str) -> tuple[float, float]:
    """(all points, autograded points) of an assignment's grade cells, read from the source notebooks.

    A grade cell of type code is a test that autograde scores; a grade cell of type markdown is a written
    answer that autograde leaves to the instructor (it scores it 0 only when it is left blank).
    """
    total = auto = 0.0
    for path in (COURSE.source / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = nbgrader_meta(cell)
            if meta.get("grade"):
                total += meta.get("points", 0)
                auto += meta.get("points", 0) if cell.cell_type == "code" else 0
    return total, auto


def outputs(work: Path, assignment: str, student: str) -> dict[str, str]:
    nb = nbformat.read(work / "autograded" / student / assignment / "exercises.ipynb", as_version=4)
    return {
        nbgrader_meta(c)["grade_id"]: "\n".join(
            o.get("text", "") + o.get("evalue", "") + "\n".join(o.get("traceback", [])) for o in c.outputs
        )
        for c in nb.cells
        if is_test(c)
    }


def test_the_solution_gets_every_autograded_point_and_the_blank_release_none(mutated):
    assignment, work, _ = mutated
    total, auto = points(assignment)
    cells = cell_scores(work, assignment, "reference")
    assert cells and all(score == maximum for score, maximum in cells.values()), cells
    got = scores(work, assignment)
    score, maximum = got["reference"]
    assert maximum == total > 0 and score == auto > 0
    assert got["blank"] == (0.0, maximum)
    with gradebook(work) as gb:
        pending = {s.student.id: s.needs_manual_grade for s in gb.assignment_submissions(assignment)}
    assert pending["reference"] == (auto < total) and not pending["blank"]


def test_feedback_and_export_carry_the_grades(mutated, tmp_path):
    """nbgrader's own feedback and CSV export carry the grades that autograde stored."""
    assignment, work, _ = mutated
    page = next((work / "feedback" / "reference" / assignment).glob("*.html")).read_text()
    assert "✔" in page and "passed" in page and "통과" in page
    nbgrader("export", "--to", str(tmp_path / "grades.csv"), cwd=work)
    with open(tmp_path / "grades.csv", newline="") as handle:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    got = scores(work, assignment)
    assert len(got) == len(rows) > 2
    for student, (score, maximum) in got.items():
        assert float(rows[assignment, student]["score"]) == score
        assert float(rows[assignment, student]["max_score"]) == maximum


def test_every_mistake_loses_points_and_is_named(mutated):
    assignment, work, expected = mutated
    problems = []
    for student, lose in expected.items():
        if student == "reference":
            continue
        assert lose, f"{student}: no exercise to mutate"
        cells, texts = cell_scores(work, assignment, student), outputs(work, assignment, student)
        for test, ids in lose.items():
            score, maximum = cells[test]
            if score >= maximum:
                problems.append(f"{student}: {test} keeps {score}/{maximum}")
            elif not any(named(key, texts[test].replace("\n", " ")) for key in ids):
                problems.append(f"{student}: {test} does not name {sorted(ids)}:\n{texts[test][-800:]}")
    assert not problems, "\n".join(problems)


def test_nbgraders_feedback_shows_the_diagnosis(mutated):
    assignment, work, _ = mutated
    page = html.unescape((work / "feedback" / "sign" / assignment / "exercises.html").read_text())
    assert "the sign is flipped" in page and "부호가 반대입니다" in page
