"""Unit 4's mistakes that are not numbers: rebinding ``w = w - lr * w.grad`` fails with TypeError on the
next update (the lecture shows it), and the assignment's test of ``fit_line`` names that mistake instead of
showing a bare TypeError. The numeric mistakes are proven by tests/test_test_points.py and
tests/test_mutations.py."""

import pytest

from autograder.checker import CheckFailed
from autograder.course import Course
from autograder.grading.cells import nbgrader_meta, split_hidden
from tests.test_test_points import Exercise, named

COURSE = Course.find()


@pytest.fixture(scope="module")
def exercise():
    return Exercise(COURSE.source / "unit04" / "exercises.ipynb")


def source_of(exercise, grade_id):
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    return cell.source


def rebinding_fit(x_data, y_data, init, lr, epochs, batch_size):
    """fit_line with only the rebinding bug left: mean loss, gradients cleared after every update."""
    import torch

    xs, ys = torch.tensor(x_data, dtype=torch.float64), torch.tensor(y_data, dtype=torch.float64)
    w, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init)
    history = [(w.item(), b.item())]
    for _ in range(epochs):
        for start in range(0, len(xs), batch_size):
            x, y = xs[start : start + batch_size], ys[start : start + batch_size]
            ((w * x + b - y) ** 2).mean().backward()
            w = w - lr * w.grad
            b = b - lr * b.grad
            history.append((w.item(), b.item()))
    return history


@pytest.mark.parametrize("student", ["fit_line_buggy", "rebinding"])
def test_rebinding_the_weight_is_named(exercise, student, monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")
    visible, _ = split_hidden(source_of(exercise, "test_fit_line"))
    function = exercise.namespace["fit_line_buggy"] if student == "fit_line_buggy" else rebinding_fit
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        failure = exercise.run(visible, {"fit_line": function})
    assert isinstance(failure, CheckFailed) and named("update_rebinds", str(failure)), failure


def test_another_type_error_is_not_mistaken_for_it(exercise):
    def broken(*args):
        raise TypeError("an unrelated bug")

    visible, _ = split_hidden(source_of(exercise, "test_fit_line"))
    with pytest.raises(TypeError, match="an unrelated bug"):
        exercise.run(visible, {"fit_line": broken})
