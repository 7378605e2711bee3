"""Partial credit: a test cell whose last value is a number earns that many points, in the grader's
judging and in nbgrader's own reading of the graded notebook (``determine_grade``)."""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.utils import determine_grade

from autograder import Parts, assert_value
from autograder.grading.cells import segments
from autograder.grading.judge import run_notebook
from autograder.grading.sandbox import Limits, Session
from tests import nbcells

ANSWER = """
def forward_backward(x):
    return x ** 2, {grad}
"""

TEST = """
value, grad = forward_backward(3.0)
parts = Parts(4, "value", "gradient")
parts.check("value", lambda: assert_value(value, 9.0, "value"))
parts.check("gradient", lambda: assert_value(grad, 6.0, "gradient"))
### BEGIN HIDDEN TESTS
value, grad = forward_backward(-1.5)
parts.check("value", lambda: assert_value(value, 2.25, "value"))
parts.check("gradient", lambda: assert_value(grad, -3.0, "gradient"))
### END HIDDEN TESTS
parts.score()
"""


def notebook(grad: str):
    return nbcells.notebook(
        nbcells.setup("from autograder import Parts, assert_value"),
        nbcells.answer(ANSWER.format(grad=grad)),
        nbcells.test(TEST, points=4),
    )


@pytest.mark.parametrize(
    ("grad", "earned"),
    [("2 * x", 4.0), ("-2 * x", 2.0), ("2 * abs(x)", 2.0), ("None", 2.0)],
    ids=["right", "sign", "wrong-only-on-hidden-input", "missing"],
)
def test_parts_earn_their_share_in_the_grader_and_in_nbgrader(tmp_path, grad, earned):
    nb = notebook(grad)
    limits = Limits(cell_seconds=60, notebook_seconds=120)
    [result] = run_notebook(nb, lambda: Session(tmp_path, limits=limits, sandbox=False))
    assert result.score == earned and result.passed == (earned == 4.0)
    text = "\n".join(result.messages)
    assert ("passed: value" in text) and ("부분 점수" in text)
    if earned < 4:
        assert "failed: gradient" in text
    cell = nbformat.from_dict(nb.cells[-1])
    assert determine_grade(cell) == (earned, 4.0)  # nbgrader's own reading of the graded cell


def test_a_part_failing_only_on_the_hidden_input_fails():
    parts = Parts(2, "a", "b")
    parts.check("a", lambda: assert_value(1.0, 1.0, "a"))
    parts.check("a", lambda: assert_value(0.0, 1.0, "a"))
    parts.check("b", lambda: assert_value(1.0, 1.0, "b"))
    assert parts.score() == 1.0


def test_segments_keep_the_order_of_visible_and_hidden_code():
    assert [hidden for hidden, _ in segments(TEST)] == [False, True, False]
    assert segments(TEST)[-1][1].strip() == "parts.score()"


def test_a_weighted_part_earns_its_weight_and_a_label_reads_in_each_language(capsys, monkeypatch):
    from autograder.messages import Text

    monkeypatch.setenv("COURSE_LANG", "both")
    parts = Parts(3, "A", "dZ", labels={"dZ": Text("상류 기울기 dZ", "upstream dZ")}, weights={"dZ": 2})
    parts.check("A", lambda: assert_value(0.0, 1.0, "A"))
    assert parts.score() == 2.0
    ko, en = capsys.readouterr().out.strip().splitlines()[-2:]
    assert "통과: 상류 기울기 dZ · 틀림: A" in ko and "passed: upstream dZ · failed: A" in en
    with pytest.raises(ValueError):
        Parts(1, "a", weights={"b": 2})
    with pytest.raises(ValueError):
        Parts(1, "a", weights={"a": 0})
