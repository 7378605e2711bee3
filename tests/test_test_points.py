"""Test points that tell mistakes apart: for every graded test cell of every assignment, its visible part
and, separately, its hidden part fail every catalogued mistake that applies to the exercise, and the
message names it.

A student's function is replaced by the reference solution (the source's solution cells) wrapped to
return a mistaken value: a generic transform of one returned value (−1, ×2, ×½, ×3; the transpose of a
matrix), or a hand-written mutant for each wrong formula the cell registers with ``mistakes=``. A part
that lets a mistake through, or fails without naming it, does not discriminate: change its inputs.
"""

import ast
import contextlib
import io
import math
import re
import string
import sys

import nbformat
import pytest
import torch

from autograder.checker import CheckFailed
from autograder.course import Course
from autograder.judge import free_names, is_test, nbgrader_meta, split_hidden
from autograder.mistakes import catalogue

COURSE = Course.find()
ASSIGNMENTS = sorted(COURSE.source.glob("*/*.ipynb"))

# graded cells whose answers are not numbers a mistake could scale: nothing generic applies to them
NOT_NUMERIC: dict[str, str] = {}

GENERIC = {  # name: (transform of one returned value, the ids any of which the message must name)
    "sign": (lambda v: -v, {"sign_flipped"}),
    "double": (lambda v: 2 * v, {"factor_two"}),
    "half": (lambda v: v / 2, {"factor_half"}),
    "triple": (lambda v: 3 * v, {"accumulated", "sum_not_mean"}),
    "transpose": (lambda v: v.T, {"transposed"}),
}


# --------------------------------------------------------------------------- mutants, by grade id


def chain_outer_at_x(ns):
    def mutant(x):
        F = math.exp(math.sin(x**2))
        return F, F * math.cos(x) * 2 * x

    return mutant


def chain_inner_missing(ns):
    def mutant(x):
        F = math.exp(math.sin(x**2))
        return F, F * math.cos(x**2)

    return mutant


def fork_without_max(ns):
    def mutant(x, y):
        return x * y + max(x, y), y, x

    return mutant


def fork_without_product(ns):
    def mutant(x, y):
        return x * y + max(x, y), 1.0 if x > y else 0.0, 0.0 if x > y else 1.0

    return mutant


def fork_chain_without(path):
    def build(ns):
        def mutant(a, w):
            u = a * w + torch.sin(a)
            dobj_du = 2 * u / a.numel()
            local = w if path == "product" else torch.cos(a)
            return (u**2).mean(), dobj_du * local, dobj_du * a

        return mutant

    return build


def staged_local_only(ns):
    def mutant(w, x, b):
        z = torch.dot(w, x) + b
        e = torch.exp(-z)
        d = 1 + e
        # each node's local gradient written down, the upstream gradient never multiplied in
        return 1 / d, -1 / d**2, 1.0, e, -1.0, -x, -w, -1.0

    return mutant


def diamond_one_path(path):
    def build(ns):
        def mutant(x, w):
            u, m = x**2, w * x
            via_u, via_v = math.sin(m) * 2 * x, u * math.cos(m) * w
            return u * math.sin(m), via_u, via_v, via_u if path == "u" else via_v, u * math.cos(m) * x

        return mutant

    return build


def mean_chain_dropped(ns):
    def mutant(x):
        return (2 * (x + 1) ** 2).mean(), x + 1  # 4/n dropped: right only when n = 4

    return mutant


def mean_chain_share(ns):
    def mutant(x):
        z = 2 * (x + 1) ** 2
        return z.mean(), z / x.numel()  # each entry's share of the mean, not a derivative

    return mutant


def layer_without_tanh_derivative(ns):
    def mutant(X, W, b, T, reduction):
        scale = 1.0 / X.shape[0] if reduction == "mean" else 1.0
        Y = torch.tanh(X @ W + b)
        G = scale * 2 * (Y - T)  # the factor 1 - Y² of tanh left out
        return scale * ((Y - T) ** 2).sum(), X.T @ G, G.sum(dim=0)

    return mutant


def train_without_zeroing(ns):
    def mutant(x_data, y_data, init, lr, epochs):
        w2, w1, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init)
        optimizer = torch.optim.SGD([w2, w1, b], lr=lr)
        history, losses = [[w2.item(), w1.item(), b.item()]], []
        for _ in range(epochs):
            for x, y in zip(x_data, y_data, strict=True):
                loss = (w2 * x**2 + w1 * x + b - y) ** 2
                loss.backward()  # the gradients of every step so far add up
                optimizer.step()
                losses.append(loss.item())
                history.append([w2.item(), w1.item(), b.item()])
        return torch.tensor(history, dtype=torch.float64), torch.tensor(losses, dtype=torch.float64)

    return mutant


def fit_without_zeroing(ns):
    def mutant(x_data, y_data, w_init, lr, epochs):
        w = torch.tensor(w_init, dtype=torch.float64, requires_grad=True)
        history = [w.item()]
        for _ in range(epochs):
            for x, y in zip(x_data, y_data, strict=True):
                ((x * w - y) ** 2).backward()
                with torch.no_grad():
                    w -= lr * w.grad  # w.grad never cleared
                history.append(w.item())
        return history

    return mutant


MUTANTS = {  # grade id: {mistake id: [builders of a mutant student function]}
    "test_chain_forward_backward": {
        "outer_at_x": [chain_outer_at_x],
        "inner_factor_missing": [chain_inner_missing],
    },
    "test_fork_forward_backward": {"fork_branch_missing": [fork_without_max, fork_without_product]},
    "test_staged_sigmoid_backward": {"local_not_chained": [staged_local_only]},
    "test_diamond_backward": {"fork_branch_missing": [diamond_one_path("u"), diamond_one_path("v")]},
    "test_mean_chain_backward": {
        "mean_factor_dropped": [mean_chain_dropped],
        "share_not_derivative": [mean_chain_share],
    },
    "test_layer_backward": {"inner_factor_missing": [layer_without_tanh_derivative]},
    "test_fork_chain_backward": {
        "fork_branch_missing": [fork_chain_without("product"), fork_chain_without("sine")]
    },
    "test_train_quadratic": {"grad_not_zeroed": [train_without_zeroing]},
    "test_fit_linear": {"grad_not_zeroed": [fit_without_zeroing]},
}


# ------------------------------------------------------------------------------------- machinery


def named(key, text):
    """Whether ``text`` holds the English diagnosis of mistake ``key``, whatever its numbers."""
    template = catalogue()[key]["en"]
    pattern = "".join(
        re.escape(literal) + (".+?" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(template)
    )
    return re.search(pattern, text) is not None


class Exercise:
    """One source notebook run with its solutions: the namespace its test cells run in."""

    def __init__(self, path):
        self.nb = nbformat.read(path, as_version=4)
        self.namespace = {}
        self.solutions = set()
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in self.nb.cells:
                if cell.cell_type != "code" or is_test(cell):
                    continue
                exec(compile(cell.source, f"<{path.parent.name}>", "exec"), self.namespace)
                if nbgrader_meta(cell).get("solution"):
                    tree = ast.parse(cell.source)
                    self.solutions |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
                    self.solutions |= {
                        t.id
                        for n in tree.body
                        if isinstance(n, ast.Assign)
                        for t in n.targets
                        if hasattr(t, "id")
                    }

    def tests(self):
        return [c for c in self.nb.cells if is_test(c)]

    def run(self, code, student=None, registered=None):
        """Run test code in a copy of the namespace, with some student names replaced; None or the error."""
        ns = dict(self.namespace)
        ns.update(student or {})
        if registered is not None:
            ns["assert_gradient"] = recording(ns["assert_gradient"], registered)
            ns["assert_value"] = recording(ns["assert_value"], registered)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, "<test cell>", "exec"), ns)
            except CheckFailed as failure:
                return failure
        return None


def recording(check, registered):
    def wrapper(*args, mistakes=None, **options):
        if mistakes:
            pairs = mistakes.items() if isinstance(mistakes, dict) else mistakes
            registered.update(key for key, _ in pairs)
        return check(*args, mistakes=mistakes, **options)

    return wrapper


def returning(function, calls):
    """``function``, recording what it returns."""

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        calls.append(result)
        return result

    return wrapper


def transformed(function, index, transform):
    """``function`` with its ``index``-th returned value (or its only one) transformed."""

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if isinstance(result, tuple):
            return tuple(transform(v) if i == index else v for i, v in enumerate(result))
        return transform(result)

    return wrapper


def as_tensor_transform(transform):
    """The transform applied to the value as a float64 tensor, handed back in the value's own kind."""

    def apply(value):
        if isinstance(value, torch.Tensor):
            return transform(value.detach().clone())
        if isinstance(value, (list, tuple)):
            return transform(torch.tensor(value, dtype=torch.float64)).tolist()
        return float(transform(torch.tensor(float(value), dtype=torch.float64)))

    return apply


def numeric(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, torch.Tensor)):
        return True
    try:
        torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def shape(value):
    return tuple(torch.as_tensor(value, dtype=torch.float64).shape)


def parts(code):
    """(code that runs with the right answer, code that runs with the mistake) for each part."""
    visible, hidden = split_hidden(code)
    found = {"visible": ("", visible)}
    if hidden.strip():
        found["hidden"] = (visible, hidden)
    return found


def swap(student):
    """A call for test code: from here on, the student's names are the mutants."""

    def mutate():
        sys._getframe(1).f_globals.update(student)

    return mutate


CASES = [
    pytest.param(
        path, nbgrader_meta(cell)["grade_id"], id=f"{path.parent.name}-{nbgrader_meta(cell)['grade_id']}"
    )
    for path in ASSIGNMENTS
    for cell in nbformat.read(path, as_version=4).cells
    if is_test(cell)
]


@pytest.fixture(scope="module")
def exercises():
    return {path: Exercise(path) for path in ASSIGNMENTS}


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")


@pytest.fixture(autouse=True)
def strict_parts(monkeypatch):
    """A failed part of a partial-credit cell fails the cell at once, so each part is proven on its own."""
    from autograder.checker import Parts

    monkeypatch.setattr(Parts, "strict", True)


def test_every_assignment_has_graded_cells():
    assert ASSIGNMENTS and CASES


@pytest.mark.parametrize("path, grade_id", CASES)
def test_each_part_tells_every_mistake_apart(exercises, path, grade_id):
    exercise = exercises[path]
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == grade_id]
    students = sorted(free_names(cell.source) & exercise.solutions)
    functions = [name for name in students if callable(exercise.namespace[name])]
    if not functions:
        assert grade_id in NOT_NUMERIC, f"{grade_id}: no student function to mutate; say why in NOT_NUMERIC"
        return
    problems = []
    for part, (right, wrong) in parts(cell.source).items():
        # with the reference solution the part passes; record what the functions return, and what it registers
        calls = {name: [] for name in functions}
        spies = {name: returning(exercise.namespace[name], calls[name]) for name in functions}
        registered = set()
        failure = exercise.run(right + "\n__mutate__()\n" + wrong, {"__mutate__": swap(spies)}, registered)
        assert failure is None, f"{grade_id} ({part}): the reference solution fails: {failure}"

        def attempt(student, ids, label, part=part, right=right, wrong=wrong):
            failure = exercise.run(right + "\n__mutate__()\n" + wrong, {"__mutate__": swap(student)})
            if failure is None:
                problems.append(f"{part}: {label} passes: these inputs do not tell it from the right answer")
            elif not any(named(key, str(failure)) for key in ids):
                problems.append(f"{part}: {label} fails without naming {sorted(ids)}:{failure}")

        for name in functions:
            results = calls[name]
            width = max((len(r) if isinstance(r, tuple) else 1 for r in results), default=0)
            for index in range(width):
                values = [r[index] if isinstance(r, tuple) else r for r in results]
                if not values or not all(numeric(v) for v in values):
                    continue
                for label, (transform, ids) in GENERIC.items():
                    if label == "transpose" and not any(len(shape(v)) == 2 for v in values):
                        continue
                    mutant = transformed(exercise.namespace[name], index, as_tensor_transform(transform))
                    attempt({name: mutant}, ids, f"{name} value #{index} {label}")
        expected = MUTANTS.get(grade_id, {})
        assert registered <= set(expected), (
            f"{grade_id}: write a mutant for {sorted(registered - set(expected))}"
        )
        for key in sorted(registered):
            for build in expected[key]:
                (name,) = functions
                attempt({name: build(exercise.namespace)}, {key}, f"{key} ({build.__name__})")
        for key in sorted(set(expected) - registered):
            problems.append(f"{part}: registers no {key!r}, though a mutant is written for it")
    assert not problems, f"{grade_id}:\n" + "\n".join(problems)
