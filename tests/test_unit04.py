"""Unit 4's exercises rest on facts about PyTorch that no returned number shows by itself. Exercise 4's
four parts each catch a mistake that the other parts' settings hide; PyTorch refuses Nesterov momentum with
dampening, and ignores dampening without momentum, as the exercise texts say; exercise 5's test cell checks
every reference against real training just below and just above it, and that check fails for a wrong
boundary. The numeric mistakes are proven by tests/test_test_points.py and tests/test_mutations.py."""

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


DATA = ([0.5, -1.5, 2.0, 1.2, -0.7], [1.0, 0.0, 3.0, 0.5, -0.4])
W0 = [0.2, -0.3, 0.1]
PLAIN = dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)
PARTS = {  # the setting of each part of exercise 4, and the mistake only it shows
    "momentum_buffer_from_zero": ([0.05] * 6, dict(PLAIN, dampening=0.5)),
    "weight_decay_outside_momentum": ([0.05] * 6, dict(PLAIN, weight_decay=0.3)),
    "nesterov_ignored": ([0.05] * 6, dict(PLAIN, nesterov=True)),
    "momentum_lr_in_buffer": ([0.08, 0.08, 0.04, 0.04, 0.02, 0.01], PLAIN),
}


@pytest.mark.parametrize("mistake", sorted(PARTS))
def test_each_sgd_mistake_shows_only_in_its_own_part(exercise, mistake):
    """With plain momentum at a constant learning rate every mistake of exercise 4 gives PyTorch's trajectory;
    only its own part's setting tells it apart. That is why the exercise has four parts."""
    ns = helpers(exercise, "test_sgd_steps")
    loss = ns["quadratic_mean_loss"](*DATA)
    (build,) = MUTANTS["test_sgd_steps"][mistake]
    mutant = build(exercise.namespace)
    grad = ns["gradient_of"](loss)

    def gap(lrs, settings):
        expected = torch.tensor(ns["torch_steps"](loss, W0, lrs, **settings), dtype=torch.float64)
        given = torch.tensor(mutant(grad, W0, lrs, **settings), dtype=torch.float64)
        return (given - expected).abs().max().item()

    assert gap([0.05] * 6, PLAIN) < 1e-12
    lrs, settings = PARTS[mistake]
    assert gap(lrs, settings) > 1e-4


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
    assert ns["trains_to_the_end"](x_data, 0.97 * right, 0.9, 0.0, 0.0)
    assert not ns["trains_to_the_end"](x_data, 1.03 * right, 0.9, 0.0, 0.0)
    ns["boundary"] = lambda x, momentum, dampening, decay, **kw: boundary(
        x, 0.0, 0.0, decay, **kw
    )  # momentum forgotten
    ns["Parts"] = exercise.namespace["Parts"]
    ns["parts"] = ns["Parts"](4, "without momentum", "with momentum")
    ns["check_limit"]("without momentum", x_data)  # right without momentum: it passes
    with pytest.raises(AssertionError) as failure:
        ns["check_limit"]("with momentum", x_data, momentum=0.9)
    assert type(failure.value) is AssertionError  # the reference's own check, not a student's verdict
