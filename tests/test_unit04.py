"""Unit 4's exercises rest on facts about PyTorch that no returned number shows by itself. Exercise 4's
misreadings of the first momentum buffer and of dampening show only where there is dampening, and Nesterov's
only with Nesterov, which is why its visible cases are what they are; its "buffer from zero" run (one step()
on a zero gradient first) does start the buffer at 0 without moving θ; its ten-billion-step reference,
torch's step map raised to a power, is what the loop gives, and a wrong map is caught. PyTorch refuses
Nesterov momentum with dampening, and ignores dampening without momentum, as the exercise texts say;
exercise 5's test cell checks every reference against real training just below and just above it, and that
check fails for a wrong boundary. The numeric mistakes are proven by tests/test_test_points.py and
tests/test_mutations.py."""

import pytest
import torch

from autograder.course import Course
from autograder.grading.cells import nbgrader_meta, split_hidden
from tests.test_test_points import MUTANTS, Exercise

COURSE = Course.find()


@pytest.fixture(scope="module")
def exercise():
    return Exercise(COURSE.source / "unit04" / "exercises.ipynb")


def helpers(exercise, grade_id):
    """The namespace of a test cell's definitions: its visible part, then its hidden part, each up to its
    first guarded check (``try:``, where the cell starts calling the student's function)."""
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    visible, hidden = split_hidden(cell.source)
    namespace = dict(exercise.namespace)
    exec(compile(visible.split("\ntry:\n")[0], f"<{grade_id}>", "exec"), namespace)
    exec(compile(hidden.split("\ntry:\n")[0], f"<hidden {grade_id}>", "exec"), namespace)
    return namespace


# exercise 4's visible cases: (theta0, g, lr, steps, μ, τ, nesterov)
PLAIN = (0.5, 1.3, 0.1, 7, 0.9, 0.0, False)
DAMPENED = (-0.4, -0.8, 0.05, 12, 0.8, 0.4, False)
NESTEROV = (0.2, 0.7, 0.1, 9, 0.6, 0.0, True)
# the misreadings of torch.optim.SGD's rule that some visible cases hide, and the case that shows each
SHOWN_BY = {
    "momentum_buffer_from_zero": DAMPENED,
    "momentum_dampening_ignored": DAMPENED,
    "nesterov_ignored": NESTEROV,
}


def test_the_visible_cases_of_exercise_4_are_the_ones_that_tell(exercise):
    """The visible cases are the ones the exercise needs: each misreading gives torch's θ in the cases
    without its setting and a different θ in the case with it, and the visible test lists exactly these
    three cases."""
    ns = helpers(exercise, "test_predict_momentum")
    assert [case for _, case in ns["VISIBLE"]] == [PLAIN, DAMPENED, NESTEROV]
    for mistake, shown in SHOWN_BY.items():
        (build,) = MUTANTS["test_predict_momentum"][mistake]
        mutant = build(exercise.namespace)
        for case in (PLAIN, DAMPENED, NESTEROV):
            gap = abs(mutant(*case) - ns["sgd_run"](*case))
            assert (gap > 1e-3) if case == shown else (gap < 1e-12), (mistake, case, gap)


def test_one_idle_step_starts_the_buffer_at_zero_and_leaves_theta_alone():
    """The visible "buffer from zero" value is torch.optim.SGD run with one step() on a zero gradient first:
    that step creates the momentum buffer as 0 and does not move θ, so the next step finds a buffer of 0."""
    theta = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.1, momentum=0.8, dampening=0.4)
    (0.0 * theta).sum().backward()
    optimizer.step()
    assert theta.item() == 0.7 and torch.equal(
        optimizer.state[theta]["momentum_buffer"], torch.zeros(1, dtype=torch.float64)
    )
    optimizer.zero_grad()
    (1.5 * theta).sum().backward()
    optimizer.step()
    assert optimizer.state[theta]["momentum_buffer"].item() == pytest.approx((1 - 0.4) * 1.5, abs=1e-15)


def test_the_long_run_reference_is_what_the_loop_gives_and_a_wrong_map_is_caught(exercise):
    """Exercise 4's hidden reference for ten billion steps is torch's step map to a power. At 40 steps it is
    the loop's θ in every setting, as the cell asserts; at 10¹⁰ steps it is the reference solution's closed
    form; and a map that forgets Nesterov is far from the loop, so the cell's assertion would stop it."""
    ns = helpers(exercise, "test_predict_momentum")
    solution = exercise.namespace["predict_momentum"]
    for case in (PLAIN, DAMPENED, NESTEROV):
        long = (*case[:3], 40, *case[4:])
        assert abs(ns["long_run"](*long) - ns["sgd_run"](*long)) < 1e-12 * (1 + abs(ns["sgd_run"](*long)))
        huge = (case[0], case[1], 1e-9, 10**10, *case[4:])
        assert ns["long_run"](*huge) == pytest.approx(solution(*huge), rel=1e-12)
    step_map = ns["step_map"]
    ns["step_map"] = lambda g, lr, momentum, dampening, nesterov: step_map(g, lr, momentum, dampening, False)
    long = (*NESTEROV[:3], 40, *NESTEROV[4:])
    assert abs(ns["long_run"](*long) - ns["sgd_run"](*long)) > 1e-2


def test_pytorch_refuses_nesterov_with_dampening():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        torch.optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_dampening_does_nothing_without_momentum():
    """Exercise 5 says dampening acts on the momentum buffer only: without momentum it changes nothing."""
    trajectories = []
    for dampening in (0.0, 0.6):
        w = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.0, dampening=dampening)
        for _ in range(5):
            w.grad = 2 * w.detach() - 1.0
            optimizer.step()
        trajectories.append(w.detach().clone())
    assert torch.equal(*trajectories)


def test_the_boundary_check_of_exercise_5_can_fail(exercise):
    """The test cell asserts that real training converges at 0.97 and diverges at 1.03 times the reference.
    Put a wrong rule in the reference (momentum ignored) and the assertion, not the student's check, fails."""
    ns = helpers(exercise, "test_largest_stable_lr")
    x_data = [0.5, -1.5, 2.0, 1.2, -0.7]
    boundary = ns["boundary"]
    right = boundary(x_data, 0.9, 0.0, 0.0)
    runs = [(x_data, factor * right, 0.9, 0.0, 0.0) for factor in (0.97, 1.03)]
    assert ns["trains_to_the_end"](runs) == [True, False]
    ns["boundary"] = lambda x, momentum, dampening, decay, **kw: boundary(
        x, 0.0, 0.0, decay, **kw
    )  # momentum forgotten
    ns["trained"] = set()
    ns["confirm"]([(x_data, {})])  # right without momentum: it passes
    with pytest.raises(AssertionError) as failure:
        ns["confirm"]([(x_data, {"momentum": 0.9})])
    assert type(failure.value) is AssertionError  # the reference's own check, not a student's verdict


def test_exercise_5s_runs_train_side_by_side_as_each_would_alone(exercise):
    """The test cell trains every case in one torch.optim.SGD, one parameter group per run: each run's
    outcome is the one it has trained alone, a diverging run next to converging ones included."""
    ns = helpers(exercise, "test_largest_stable_lr")
    x_data, other = [0.5, -1.5, 2.0, 1.2, -0.7], [1.0, -0.3, 0.8, 2.2, -1.1, 0.4]
    runs = []
    for data, settings in ((x_data, (0.0, 0.0, 0.0)), (other, (0.9, 0.0, 0.0)), (x_data, (0.5, 0.4, 0.2))):
        limit = ns["boundary"](data, *settings)
        runs += [(data, factor * limit, *settings) for factor in (0.97, 1.03)]
    together = ns["trains_to_the_end"](runs)
    assert together == [ns["trains_to_the_end"]([run])[0] for run in runs] == [True, False] * 3
