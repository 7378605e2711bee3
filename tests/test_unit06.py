"""Unit 6's two exercises whose answers are not numbers a mistake could scale, proven to tell mistakes apart:
the gradient check of a layer's backward (its answers are True/False) and the custom
``torch.autograd.Function`` with two inputs (a class).

tests/test_test_points.py covers the other exercises generically. Here each wrong check, and each wrong
Function, replaces the reference solution in the source's own test cell (visible and hidden parts run
together, as the grader runs them), and must fail the part it gets wrong, with the message that says why.
"""

import contextlib
import io
import re

import pytest
import torch

from autograder.checker import CheckFailed, Parts
from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, split_hidden
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


def run(exercise, grade_id, student, keep_helpers=False, visible_only=False, printed=None):
    """The whole test cell (visible and hidden parts) with ``student`` in place of the solution's names:
    (the failure or None, the namespace after the run). ``keep_helpers`` leaves out the cell's closing
    ``del`` of its helpers, so that the namespace still holds them; ``visible_only`` runs what the student's
    copy of the cell holds; ``printed``, a list, gets what the cell printed."""
    code = cell(exercise, grade_id)
    if visible_only:
        code = split_hidden(code)[0]
    if keep_helpers:
        code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("del "))
    ns = dict(exercise.namespace)
    ns.update(student)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, f"<{grade_id}>", "exec"), ns)
    except CheckFailed as failure:
        return failure, ns
    finally:
        if printed is not None:
            printed.append(output.getvalue())
    return None, ns


# ------------------------------------------------------------------------------ the gradient check


def central(f, x, h, dtype=torch.float64):
    """Central differences of the scalar f at x, one element at a time, in ``dtype``."""
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


def normwise(a, n):
    return ((a - n).norm() / torch.maximum(a.norm(), n.norm())).item()


def elementwise(a, n):
    return ((a - n).abs() / torch.maximum(a.abs(), n.abs()).clamp(min=1e-8)).max().item()


def vjp_check(
    measure=normwise, threshold=1e-6, h=1e-6, dtype=torch.float64, upstream="random", first_only=False
):
    """A check of a layer's backward, right by default, with one mistake switched on."""

    def checker(forward, backward, X, *args, **kwargs):
        Y = torch.as_tensor(forward(X.clone()), dtype=torch.float64)
        if upstream == "ones":
            dY = torch.ones_like(Y)
        else:
            dY = torch.randn(Y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        a = torch.as_tensor(backward(X.clone(), dY), dtype=torch.float64).reshape(X.shape)
        n = central(lambda T: (torch.as_tensor(forward(T), dtype=torch.float64) * dY).sum(), X, h, dtype)
        if first_only:
            a, n = a.reshape(-1)[:1], n.reshape(-1)[:1]
        if measure == "absolute":
            return bool((a - n).abs().max() <= 1e-2)  # a loose absolute test
        return bool(measure(a, n) <= threshold)

    return checker


def jacobian_check(forward, backward, X, *args, **kwargs):
    """Another right check: the whole Jacobian, one output element at a time (what gradcheck does)."""
    Y = torch.as_tensor(forward(X.clone()), dtype=torch.float64)
    rows_a, rows_n = [], []
    for j in range(Y.numel()):
        e = torch.zeros(Y.numel(), dtype=torch.float64)
        e[j] = 1.0
        dY = e.reshape(Y.shape)
        rows_a.append(torch.as_tensor(backward(X.clone(), dY), dtype=torch.float64).reshape(-1))
        scalar = lambda T, dY=dY: (torch.as_tensor(forward(T), dtype=torch.float64) * dY).sum()  # noqa: E731
        rows_n.append(central(scalar, X, 1e-6).reshape(-1))
    return bool(normwise(torch.stack(rows_a), torch.stack(rows_n)) <= 1e-6)


def always(answer):
    def checker(forward, backward, X, *args, **kwargs):
        return answer

    return checker


def error_returned(forward, backward, X, *args, **kwargs):
    return 1e-9  # the relative error, not the verdict asked for


def by_name(forward, backward, X, *args, **kwargs):
    """No check at all: the tests' own right backwards are named ``*_backward``, the wrong ones
    ``*_backward_<what is wrong>``."""
    return backward.__name__.endswith("_backward")


def by_repr(forward, backward, X, *args, **kwargs):
    return repr(backward).split()[1].endswith("_backward")  # <function mix_backward at 0x…>


CHECKS = {  # wrong check: the message it must get
    "always True": (always(True), "yet your check returned True"),
    "always False": (always(False), "yet your check returned False"),
    "first element only": (vjp_check(first_only=True), "yet your check returned True"),
    "absolute error": (vjp_check(measure="absolute"), "yet your check returned True"),
    "h too large": (vjp_check(h=1e-1), "yet your check returned False"),  # truncation error ~ h²
    "h = 1e-5": (vjp_check(h=1e-5), "yet your check returned False"),  # sin(500·x): (500·h)²/6 > 1e-6
    "threshold 1e-5": (vjp_check(threshold=1e-5), "yet your check returned True"),  # a backward 3e-6 off
    "h = 1e-8": (vjp_check(h=1e-8), "yet your check returned False"),  # a one-pass variance: ε·121/h > 1e-6
    "threshold 1e-7": (vjp_check(threshold=1e-7), "yet your check returned False"),  # sin(1400·x): 3.3e-7
    "float32": (vjp_check(dtype=torch.float32), "yet your check returned False"),  # rounding error ~ ε/h
    "elementwise, floor 1e-8": (
        vjp_check(measure=elementwise, threshold=1e-5),
        "yet your check returned False",
    ),
    "dY of ones": (vjp_check(upstream="ones"), "a check that sets dY to all ones cannot tell it"),
    "a number returned": (error_returned, "must return True or False"),
    "by the backward's name": (by_name, "yet your check returned"),
    "by the backward's repr": (by_repr, "yet your check returned"),
}


def test_the_reference_check_passes(exercise):
    failure, _ = run(exercise, "test_check_backward", {})
    assert failure is None, failure


def test_a_right_check_of_another_hand_passes(exercise):
    failure, _ = run(exercise, "test_check_backward", {"check_backward": jacobian_check})
    assert failure is None, failure


@pytest.mark.parametrize("label", sorted(CHECKS))
def test_each_wrong_check_is_caught(exercise, label):
    checker, message = CHECKS[label]
    failure, _ = run(exercise, "test_check_backward", {"check_backward": checker})
    assert failure is not None, f"{label} passes"
    assert message in str(failure), str(failure)


def test_every_forward_and_backward_handed_to_the_check_looks_alike(exercise):
    """What the check is handed tells nothing of which case it is: every forward, and every backward, has
    the same name, qualified name, docstring and repr (its address aside), right ones and planted wrong ones
    alike."""
    seen = set()

    def looks(function):
        address = re.sub(r" at 0x[0-9a-f]+", "", repr(function))
        return function.__name__, function.__qualname__, function.__doc__, function.__module__, address

    def recording(forward, backward, X, *args, **kwargs):
        seen.add((looks(forward), looks(backward)))
        return jacobian_check(forward, backward, X)

    failure, _ = run(exercise, "test_check_backward", {"check_backward": recording})
    assert failure is None, failure
    assert len(seen) == 1, seen


VISIBLE = {  # wrong checks the student's own copy of the cell already catches: the message it must give
    "dY of ones": "a check that sets dY to all ones cannot tell it",
    "elementwise, floor 1e-8": "yet your check returned False",  # exp(x) with an entry e⁻¹⁴
    "always True": "yet your check returned True",
    "always False": "yet your check returned False",
}


@pytest.mark.parametrize("label", sorted(VISIBLE))
def test_the_visible_cases_already_catch_the_usual_wrong_checks(exercise, label):
    failure, _ = run(exercise, "test_check_backward", {"check_backward": CHECKS[label][0]}, visible_only=True)
    assert failure is not None and VISIBLE[label] in str(failure), failure


def test_the_reference_check_passes_the_visible_cases_alone(exercise):
    failure, _ = run(exercise, "test_check_backward", {}, visible_only=True)
    assert failure is None, failure


def test_a_ones_upstream_misses_the_ignored_upstream(exercise):
    """The case planted for it: a backward that ignores dY is right when dY is all ones."""
    _, ns = run(exercise, "test_check_backward", {}, keep_helpers=True)
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ignored = (ns["mix_forward"], ns["mix_backward_upstream_ignored"], X)
    assert vjp_check(upstream="ones")(*ignored) and not vjp_check()(*ignored)


def test_the_planted_backwards_are_wrong_and_the_right_ones_right(exercise):
    """The cell's own cases mean what they say, measured by autograd-free central differences here; the right
    softmax's and exp's tiny entries raise the elementwise check's false alarm; the fast wave is right at
    h = 1e-6 but not at h = 1e-5, the one-pass variance right at h = 1e-6 but not at h = 1e-8, the faster wave
    right at the threshold 1e-6 but not at 1e-7, and the backward 3e-6 off is wrong at the threshold 1e-6 but
    not at 1e-5."""
    _, ns = run(exercise, "test_check_backward", {}, keep_helpers=True)
    g = torch.Generator().manual_seed(3)
    Z = torch.randn(3, 4, generator=g, dtype=torch.float64)
    Z[0, 1] = -13.0
    X = torch.randn(4, 3, generator=g, dtype=torch.float64)
    E = X.clone()
    E[0, 1] = -14.0
    V = torch.rand(12, 3, generator=g, dtype=torch.float64) * 2 - 1 + 11  # data around 11
    cases = {  # (forward, backward, input): (right?, the least and the largest relative error at h = 1e-6)
        ("softmax_forward", "softmax_backward", "Z"): (True, 0, 1e-8),
        ("softmax_forward", "softmax_backward_diagonal", "Z"): (False, 1e-4, 10),
        ("mix_forward", "mix_backward", "X"): (True, 0, 1e-8),
        ("mix_forward", "mix_backward_no_transpose", "X"): (False, 1e-4, 10),
        ("mix_forward", "mix_backward_upstream_ignored", "X"): (False, 1e-4, 10),
        ("exp_forward", "exp_backward", "E"): (True, 0, 1e-8),
        ("wave_forward", "wave_backward", "X"): (True, 0, 1e-8),
        ("wave_forward", "wave_backward_missing_term", "X"): (False, 1e-4, 10),
        ("lse_forward", "lse_backward", "Z"): (True, 0, 1e-8),
        ("lse_forward", "lse_backward_one_off", "Z"): (False, 1e-4, 10),
        ("tiny_forward", "tiny_backward", "X"): (True, 0, 1e-8),
        ("tiny_forward", "tiny_backward_factor_missing", "X"): (False, 1e-4, 10),
        ("large_forward", "large_backward", "X"): (True, 0, 1e-8),
        ("large_forward", "large_backward_sign", "X"): (False, 1e-4, 10),
        ("large_forward", "large_backward_slightly_off", "X"): (False, 2e-6, 4e-6),
        ("fast_wave_forward", "fast_wave_backward", "X"): (True, 0, 1e-7),  # (500·h)²/6 ≈ 4e-8
        ("faster_wave_forward", "faster_wave_backward", "X"): (True, 3e-7, 3.5e-7),  # (1400·h)²/6 ≈ 3.3e-7
        ("one_pass_variance_forward", "one_pass_variance_backward", "V"): (True, 0, 3e-7),  # ε·121/h, N = 12
    }
    for (forward, backward, which), (right, least, largest) in cases.items():
        T = {"Z": Z, "X": X, "E": E, "V": V}[which]
        dY = torch.randn(torch.as_tensor(ns[forward](T)).shape, generator=g, dtype=torch.float64)
        a = ns[backward](T, dY)
        n = central(lambda U, f=ns[forward], dY=dY: (f(U) * dY).sum(), T, 1e-6)
        assert least <= normwise(a, n) <= largest, (backward, normwise(a, n))
        assert (normwise(a, n) < 1e-6) == right, (backward, normwise(a, n))
    dY = torch.randn(4, 3, generator=g, dtype=torch.float64)
    fast = central(lambda U: (ns["fast_wave_forward"](U) * dY).sum(), X, 1e-5)
    assert normwise(ns["fast_wave_backward"](X, dY), fast) > 2e-6  # right, yet a false alarm at h = 1e-5
    dY = torch.randn(3, generator=g, dtype=torch.float64)
    small = central(lambda U: (ns["one_pass_variance_forward"](U) * dY).sum(), V, 1e-8)
    assert normwise(ns["one_pass_variance_backward"](V, dY), small) > 2e-6  # a false alarm at h = 1e-8
    tiny_entries = ((Z, "softmax_forward", "softmax_backward"), (E, "exp_forward", "exp_backward"))
    for T, forward, backward in tiny_entries:
        dY = torch.randn(T.shape, generator=g, dtype=torch.float64)
        a = ns[backward](T, dY)
        n = central(lambda U, f=ns[forward], dY=dY: (f(U) * dY).sum(), T, 1e-6)
        assert abs(a[0, 1]) < 1e-6, backward
        assert elementwise(a, n) > 1e-5 > 1e-8 > normwise(a, n), (backward, elementwise(a, n))


# ------------------------------------------------------------------------------ the custom Function


def squared_distance(
    scale=1.0,
    upstream=True,
    honours_needs=True,
    norm_terms=True,
    dY_sign=1.0,
    square=True,
    rows_axis=1,
    one_at_a_time=False,
):
    """A SquaredDistance Function, right by default, with one mistake switched on."""

    class Mistaken(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, Y):
            ctx.save_for_backward(X, Y)
            diff = X.unsqueeze(1) - Y.unsqueeze(0)
            return (diff**2 if square else diff.abs()).sum(dim=2)

        @staticmethod
        def backward(ctx, grad_output):
            X, Y = ctx.saved_tensors
            G = grad_output if upstream else torch.ones_like(grad_output)
            rows, cols = (
                (G.sum(dim=rows_axis).unsqueeze(1), G.sum(dim=0).unsqueeze(1)) if norm_terms else (0.0, 0.0)
            )
            dX = dY = None
            if ctx.needs_input_grad[0] or not honours_needs:
                dX = scale * 2 * (rows * X - G @ Y)
            if (ctx.needs_input_grad[1] or not honours_needs) and not (one_at_a_time and dX is not None):
                dY = dY_sign * scale * 2 * (cols * Y - G.T @ X)
            return dX, dY

    return Mistaken


FUNCTIONS = {  # wrong Function: (the parts it must fail, a piece of the message of the first)
    "backward doubled": ({"dX", "dY"}, "twice the expected"),
    "upstream gradient ignored": ({"dX", "dY"}, "local gradient alone"),
    "norm terms missing": ({"dX", "dY"}, "the terms of ‖x_i‖² and ‖y_j‖² are missing"),
    "dY's sign flipped": ({"dY"}, "the sign is flipped"),
    "needs_input_grad ignored": ({"needs_input_grad"}, "must return None"),
    "absolute differences": ({"forward", "dX", "dY"}, "✘ S: wrong value"),  # and gradcheck fails dX, dY
    # (M, 1) times X (N, D): a shape error in the backward loses the parts that call it, not the whole cell
    "G summed along the wrong axis": ({"dX", "needs_input_grad"}, "your backward raised an exception"),
    "dY only when dX is not needed": ({"needs_input_grad"}, "must return both gradients"),
}
MISTAKEN = {
    "backward doubled": squared_distance(scale=2.0),
    "upstream gradient ignored": squared_distance(upstream=False),
    "norm terms missing": squared_distance(norm_terms=False),
    "dY's sign flipped": squared_distance(dY_sign=-1.0),
    "needs_input_grad ignored": squared_distance(honours_needs=False),
    "absolute differences": squared_distance(square=False),
    "G summed along the wrong axis": squared_distance(rows_axis=0),
    "dY only when dX is not needed": squared_distance(one_at_a_time=True),
}
# its wrong values would give the answer away: only the hidden part names it
HIDDEN_NAMES = {"norm terms missing"}


def test_the_reference_function_gets_every_part(exercise):
    failure, ns = run(exercise, "test_squared_distance_function", {})
    assert failure is None and ns["parts"].failed == {}, failure


def test_a_right_function_of_another_hand_gets_every_part(exercise):
    failure, ns = run(exercise, "test_squared_distance_function", {"SquaredDistance": squared_distance()})
    assert failure is None and ns["parts"].failed == {}, (failure, ns["parts"].failed)


@pytest.mark.parametrize("label", sorted(FUNCTIONS))
def test_each_wrong_function_loses_its_parts(exercise, label, monkeypatch):
    monkeypatch.setattr(Parts, "strict", False)
    parts, message = FUNCTIONS[label]
    printed = []
    failure, ns = run(
        exercise, "test_squared_distance_function", {"SquaredDistance": MISTAKEN[label]}, printed=printed
    )
    assert failure is None, failure
    assert set(ns["parts"].failed) == parts, ns["parts"].failed
    first = sorted(parts, key=["forward", "dX", "dY", "needs_input_grad"].index)[0]
    if label in HIDDEN_NAMES:  # the visible part fails it without naming it; the hidden part names it
        assert message not in ns["parts"].failed[first] and message in printed[0], printed[0]
    else:
        assert message in ns["parts"].failed[first], ns["parts"].failed[first]


@pytest.mark.parametrize("label", sorted(HIDDEN_NAMES))
def test_the_visible_part_fails_what_only_the_hidden_part_names(exercise, label, monkeypatch):
    monkeypatch.setattr(Parts, "strict", False)
    student = {"SquaredDistance": MISTAKEN[label]}
    failure, ns = run(exercise, "test_squared_distance_function", student, visible_only=True)
    assert failure is None and set(ns["parts"].failed) == FUNCTIONS[label][0], (failure, ns["parts"].failed)


def test_the_visible_part_of_the_log_softmax_fails_what_only_the_hidden_part_names(exercise, monkeypatch):
    """Its wrong dZ along one path of the maximum, or without the row sum of dA, would give the answer away:
    the visible part fails them (the dZ part) without naming them, the hidden part names them
    (tests/test_test_points.py)."""
    from tests.test_test_points import HIDDEN_ONLY, MUTANTS

    monkeypatch.setattr(Parts, "strict", False)
    grade_id = "test_log_softmax_forward_backward"
    for key in sorted(HIDDEN_ONLY[grade_id]):
        for build in MUTANTS[grade_id][key]:
            student = {"log_softmax_forward_backward": build(exercise.namespace)}
            failure, ns = run(exercise, grade_id, student, visible_only=True)
            assert failure is None and set(ns["parts"].failed) == {"dZ"}, (key, failure, ns["parts"].failed)


def test_gradcheck_at_the_chosen_tolerances_catches_what_the_defaults_let_through():
    """The tolerances the exercise states are not gradcheck's defaults: a backward 0.05 % off passes those."""
    X = torch.randn(4, 3, dtype=torch.float64).requires_grad_()
    Y = torch.randn(5, 3, dtype=torch.float64)
    slightly_off = squared_distance(scale=1.0005)
    assert torch.autograd.gradcheck(slightly_off.apply, (X, Y))
    with pytest.raises(RuntimeError):
        torch.autograd.gradcheck(slightly_off.apply, (X, Y), atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradcheck(squared_distance().apply, (X, Y), atol=1e-8, rtol=1e-6)


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
