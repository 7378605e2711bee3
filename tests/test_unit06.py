"""Unit 6's two exercises whose answers are not numbers a mistake could scale, proven to tell mistakes apart:
the gradient checker (its answers are True/False) and the custom ``torch.autograd.Function`` (a class).

tests/test_test_points.py covers the other exercises generically. Here each wrong checker, and each wrong
Function, replaces the reference solution in the source's own test cell (visible and hidden parts run
together, as the grader runs them), and must fail the part it gets wrong, with the message that says why.
"""

import contextlib
import io

import pytest
import torch

from autograder.checker import CheckFailed, Parts
from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta
from tests.test_test_points import Exercise

COURSE = Course.find()
SOURCE = COURSE.source / "unit06" / "exercises.ipynb"

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason="unit 6 is not in this course")


@pytest.fixture(scope="module")
def exercise():
    return Exercise(SOURCE)


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")


def cell(exercise, grade_id):
    (found,) = [c for c in exercise.nb.cells if is_test(c) and nbgrader_meta(c)["grade_id"] == grade_id]
    return found.source


def run(exercise, grade_id, student):
    """The whole test cell (visible and hidden parts) with ``student`` in place of the solution's names:
    (the failure or None, the namespace after the run)."""
    ns = dict(exercise.namespace)
    ns.update(student)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            exec(compile(cell(exercise, grade_id), f"<{grade_id}>", "exec"), ns)
        except CheckFailed as failure:
            return failure, ns
    return None, ns


# ------------------------------------------------------------------------------ the gradient checker


def central(f, x, h, dtype=torch.float64):
    x = x.detach().clone().to(dtype)
    out = torch.zeros_like(x).view(-1)
    flat = x.view(-1)
    for i in range(flat.numel()):
        keep = flat[i].item()
        flat[i] = keep + h
        plus = float(f(x.clone()))
        flat[i] = keep - h
        minus = float(f(x.clone()))
        flat[i] = keep
        out[i] = (plus - minus) / (2 * h)
    return out.view(x.shape).to(torch.float64)


def relative(a, n):
    return ((a - n).abs() / torch.maximum(a.abs(), n.abs()).clamp(min=1e-8)).max()


def always(answer):
    def checker(f, df, x, *args, **kwargs):
        return answer

    return checker


def first_element_only(f, df, x, *args, **kwargs):
    a = torch.as_tensor(df(x.clone()), dtype=torch.float64).reshape(-1)[:1]
    return bool(relative(a, central(f, x, 1e-6).reshape(-1)[:1]) <= 1e-5)


def absolute_error(f, df, x, *args, **kwargs):
    a = torch.as_tensor(df(x.clone()), dtype=torch.float64).reshape(x.shape)
    return bool((a - central(f, x, 1e-6)).abs().max() <= 1e-2)  # a loose absolute test


def step_too_large(f, df, x, *args, **kwargs):
    a = torch.as_tensor(df(x.clone()), dtype=torch.float64).reshape(x.shape)
    return bool(relative(a, central(f, x, 1e-1)) <= 1e-5)  # truncation error ~ h²


def in_float32(f, df, x, *args, **kwargs):
    a = torch.as_tensor(df(x.clone()), dtype=torch.float64).reshape(x.shape)
    return bool(relative(a, central(f, x, 1e-6, torch.float32)) <= 1e-5)  # rounding error ~ ε/h


def relative_error_returned(f, df, x, *args, **kwargs):
    a = torch.as_tensor(df(x.clone()), dtype=torch.float64).reshape(x.shape)
    return float(relative(a, central(f, x, 1e-6)))  # a number, not the verdict asked for


CHECKERS = {  # wrong checker: the message it must get
    "always True": (always(True), "yet your check returned True"),
    "always False": (always(False), "yet your check returned False"),
    "first element only": (first_element_only, "yet your check returned True"),
    "absolute error": (absolute_error, "yet your check returned True"),
    "h too large": (step_too_large, "yet your check returned False"),
    "float32": (in_float32, "yet your check returned False"),
    "a number returned": (relative_error_returned, "must return True or False"),
}


def test_the_reference_checker_passes(exercise):
    failure, _ = run(exercise, "test_gradient_check", {})
    assert failure is None, failure


@pytest.mark.parametrize("label", sorted(CHECKERS))
def test_each_wrong_checker_is_caught(exercise, label):
    checker, message = CHECKERS[label]
    failure, _ = run(exercise, "test_gradient_check", {"gradient_check": checker})
    assert failure is not None, f"{label} passes"
    assert message in str(failure), str(failure)


def test_the_planted_gradients_are_wrong_and_the_right_ones_right(exercise):
    """The cell's own cases mean what they say: measured by autograd-free central differences here."""
    _, ns = run(exercise, "test_gradient_check", {})
    x = torch.tensor([0.9, 1.4, -0.8], dtype=torch.float64)
    assert relative(ns["df_big"](x), central(ns["f_big"], x, 1e-6)) < 1e-8
    assert relative(ns["df_big_sign"](x), central(ns["f_big"], x, 1e-6)) > 1
    Z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert relative(ns["df_ce"](Z), central(ns["f_ce"], Z, 1e-6)) < 1e-7
    assert 5e-4 < relative(ns["df_ce_one_off"](Z), central(ns["f_ce"], Z, 1e-6)) < 2e-3


# ------------------------------------------------------------------------------ the custom Function


def log_sum_exp(shift=True, scale=1.0, upstream=True, honours_needs=True):
    """A LogSumExp Function, right by default, with one mistake switched on."""

    class Mistaken(torch.autograd.Function):
        @staticmethod
        def forward(ctx, Z):
            m = Z.max(dim=1, keepdim=True).values if shift else torch.zeros_like(Z[:, :1])
            s = m.squeeze(1) + torch.log(torch.exp(Z - m).sum(dim=1))
            ctx.save_for_backward(Z, s)
            return s

        @staticmethod
        def backward(ctx, grad_output):
            if honours_needs and not ctx.needs_input_grad[0]:
                return None
            Z, s = ctx.saved_tensors
            softmax = torch.exp(Z - s.unsqueeze(1))
            return scale * (grad_output.unsqueeze(1) if upstream else 1) * softmax

    return Mistaken


FUNCTIONS = {  # wrong Function: (the part it must fail, a piece of the message)
    "no max shift": (log_sum_exp(shift=False), "forward", "not finite"),
    "backward doubled": (log_sum_exp(scale=2.0), "backward", "twice the expected"),
    "upstream gradient ignored": (log_sum_exp(upstream=False), "backward", "dZ"),
    "needs_input_grad ignored": (log_sum_exp(honours_needs=False), "needs_input_grad", "must return None"),
}


def test_the_reference_function_gets_every_part(exercise):
    failure, ns = run(exercise, "test_logsumexp_function", {})
    assert failure is None and ns["parts"].failed == {}, failure


def test_a_right_function_of_another_hand_gets_every_part(exercise):
    failure, ns = run(exercise, "test_logsumexp_function", {"LogSumExp": log_sum_exp()})
    assert failure is None and ns["parts"].failed == {}, (failure, ns["parts"].failed)


@pytest.mark.parametrize("label", sorted(FUNCTIONS))
def test_each_wrong_function_loses_its_part(exercise, label, monkeypatch):
    monkeypatch.setattr(Parts, "strict", False)
    function, part, message = FUNCTIONS[label]
    failure, ns = run(exercise, "test_logsumexp_function", {"LogSumExp": function})
    assert failure is None, failure
    # a forward that overflows also spoils the backward that reuses its output, at the hidden large logits
    allowed = {part, "backward"} if part == "forward" else {part}
    assert part in ns["parts"].failed and set(ns["parts"].failed) <= allowed, ns["parts"].failed
    assert message in ns["parts"].failed[part], ns["parts"].failed[part]


# ------------------------------------------------------------------------------ the lecture's figures


def lecture_cell(marker: str) -> str:
    """The code cell of unit 6's lecture that contains ``marker``."""
    import nbformat

    path = COURSE.root / "notebooks" / "bilingual" / "unit06_layers_gradcheck.ipynb"
    (cell,) = [
        c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and marker in c.source
    ]
    return cell.source


def test_the_figures_redraw_the_lectures_network_and_training():
    """img/figures.py rebuilds the two-layer network and its training to draw the shape diagram and the
    training curve. They must be the lecture's: the same sizes, seed and labels, and the losses the lecture
    asserts; and the backward pass by hand must train exactly as autograd does."""
    import importlib.util
    import re

    spec = importlib.util.spec_from_file_location("course_figures", COURSE.img / "figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)

    network = lecture_cell("N, D, K, C =")
    sizes = tuple(
        int(v) for v in re.search(r"^N, D, K, C = (\d+), (\d+), (\d+), (\d+)", network, re.M).groups()
    )
    seed = int(re.search(r"^net_gen = torch\.Generator\(\)\.manual_seed\((\d+)\)", network, re.M).group(1))
    labels = [
        int(v) for v in re.search(r"^y = torch\.tensor\(\[([\d, ]+)\]\)", network, re.M).group(1).split(",")
    ]
    X, y, weights = figures.unit06_network()
    assert (len(y), X.shape[1], weights["W1"].shape[1], weights["W2"].shape[1]) == sizes
    assert y.tolist() == labels
    g = torch.Generator().manual_seed(seed)
    torch.testing.assert_close(X, torch.randn(*X.shape, generator=g, dtype=torch.float64))
    assert all(w.dim() == 1 or w.shape[0] != w.shape[1] for w in weights.values()), "a square weight matrix"

    training = lecture_cell("losses_hand")
    asserted = re.search(r"for k in \(0, STEPS - 1\)\] == \[([\d.]+), ([\d.]+)\]", training).groups()
    hand, auto = figures.unit06_training()
    assert [round(hand[0], 4), round(hand[-1], 4)] == [float(v) for v in asserted]
    assert max(abs(a - b) for a, b in zip(hand, auto, strict=True)) < 1e-12
