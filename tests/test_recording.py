"""What the checks name, heard in process: the pieces ``course grade`` records and ``course report`` counts.

The class-sized tests are in tests/test_report.py; these run in a second and need no sandbox.
"""

from __future__ import annotations

import string

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder import recording
from autograder.checker import Parts, assert_gradient, assert_value
from autograder.grading.lms import number
from autograder.grading.records import CellResult
from autograder.grading.report import REASONS, ClassReport, Score, reasons_in
from autograder.messages import catalogue, render
from autograder.rules import enforce

X = torch.tensor([0.5, -1.2, 2.0], dtype=torch.float64)


def square(x):
    return (x**2).sum()


def test_nothing_is_recorded_when_nobody_listens():
    with pytest.raises(AssertionError):
        assert_gradient(-2 * X, square, X)  # the student's kernel: the checker works as ever


def test_a_named_mistake_is_heard_with_its_hint_in_both_languages():
    with recording.listening() as heard:
        with pytest.raises(AssertionError):
            assert_gradient(-2 * X, square, X)
    assert [m["id"] for m in heard.mistakes] == ["sign_flipped"]
    assert "부호가 반대" in heard.mistakes[0]["ko"] and "sign is flipped" in heard.mistakes[0]["en"]
    assert heard.mistakes[0]["part"] is None and heard.mistakes[0]["stage"] == "visible"


def test_a_wrong_answer_without_a_known_mistake_names_nothing():
    with recording.listening() as heard:
        with pytest.raises(AssertionError):
            assert_value(1.234, 5.0, "f")
    assert heard.mistakes == [] and heard.shortcuts == []


def test_parts_record_each_part_and_where_it_first_failed():
    with recording.listening() as heard:
        parts = Parts(3, "a", "b", "c")
        parts.check("a", lambda: assert_gradient(2 * X, square, X))
        heard.stage = "hidden"
        parts.check("b", lambda: assert_gradient(X, square, X))  # half: a dropped 2
        parts.check("c", lambda: assert_gradient(2 * X, square, X))
        assert parts.score() == 2.0
    assert heard.part_list() == [
        {"name": "a", "passed": True, "failed_in": None},
        {"name": "b", "passed": False, "failed_in": "hidden"},
        {"name": "c", "passed": True, "failed_in": None},
    ]
    assert [(m["id"], m["part"], m["stage"]) for m in heard.mistakes] == [("factor_half", "b", "hidden")]
    cell = CellResult("t", passed=False, score=2.0, parts=heard.part_list())
    assert cell.hidden_only, "the visible tests passed, a hidden one failed"


def test_a_refused_shortcut_is_heard_with_what_was_found():
    answer = "def f(x):\n    y = x ** 2\n    y.backward()\n    return x.grad\n"
    with recording.listening() as heard:
        with pytest.raises(AssertionError):
            enforce(("by_hand",), "f", [answer])
    assert [(s["kind"], s["found"]) for s in heard.shortcuts] == [
        ("autograd", ".backward (line 3), .grad (line 4)")
    ]
    assert "자동 미분" in heard.shortcuts[0]["ko"] and "autograd" in heard.shortcuts[0]["en"]


def test_records_keep_what_was_heard():
    cell = CellResult(
        "t",
        passed=False,
        mistakes=[{"id": "sign_flipped", "part": None, "stage": "visible", "ko": "가", "en": "a"}],
        shortcuts=[{"kind": "numeric", "found": "(f(x + h) - f(x)) / h", "ko": "나", "en": "b"}],
        parts=[{"name": "p", "passed": False, "failed_in": "visible"}],
    )
    assert CellResult.from_dict(cell.as_dict()) == cell
    assert not cell.hidden_only


def sample(template: str) -> str:
    """A message with every placeholder filled."""
    fields = {
        name: 7 if spec and spec[-1] in "gdf" else "x.ipynb"
        for _, name, spec, _ in string.Formatter().parse(template)
        if name
    }
    return template.format(**fields)


@pytest.mark.parametrize("key", sorted(REASONS))
def test_every_reason_is_recognised_in_either_language(key):
    for lang in ("ko", "en"):
        assert reasons_in(sample(catalogue()[key][lang])) == [REASONS[key]], (key, lang)
    assert reasons_in(render("grade_hidden_failed")) == []  # an ordinary failure is no reason


def test_full_marks_have_a_bin_of_their_own():
    scores = [Score(f"s{i}", value, 14.0) for i, value in enumerate([0.0, 12.5, 13.0, 13.999, 14.0, 14.0])]
    scores.append(Score("absent", None, 14.0))
    bins = ClassReport("a", 14.0, scores, [], [], [], []).bins()
    assert len(bins) == 15 and bins[-1] == (14.0, 15.0, 2)
    assert bins[13] == (13.0, 14.0, 2) and bins[12] == (12.0, 13.0, 1) and bins[0] == (0.0, 1.0, 1)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_a_grade_is_written_exactly(value):
    assert float(number(value)) == value
