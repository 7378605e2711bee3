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
from dataclasses import dataclass

import nbformat
import pytest
import torch

from autograder.checker import CheckFailed
from autograder.course import Course
from autograder.grading.cells import is_test, nbgrader_meta, split_hidden
from autograder.grading.judge import free_names
from autograder.mistakes import catalogue
from autograder.rules import SHORT_FORMS

COURSE = Course.find()
ASSIGNMENTS = sorted(COURSE.source.glob("*/*.ipynb"))

# graded cells whose answers are not numbers a mistake could scale: nothing generic applies to them
NOT_NUMERIC = {
    "test_check_backward": "True/False answers: the verdicts of a gradient check (tests/test_unit06.py)",
    "test_squared_distance_function": "a torch.autograd.Function, judged part by part (tests/test_unit06.py)",
    "test_breaks_backward": "True/False answers",
    "test_value_ops": "a class, not a function: its mistakes are planted in its source (EDITS)",
    "test_topological_order": "a list of nodes: its mistake is planted in its source (EDITS)",
    "test_backward": "backward() returns nothing: its mistakes are planted in the source (EDITS)",
    "test_sigmoid": "a method returning a node: its mistakes are planted in its source (EDITS)",
}

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


def quadratic_mistake(kind):
    """Unit 4, exercise 1: the quadratic gradients with x and x² swapped, or the inner factors dropped."""

    def build(ns):
        def mutant(x, w2, w1, b, y):
            s = w2 * x**2 + w1 * x + b - y
            if kind == "swapped":
                return s**2, 2 * s * x, 2 * s * x**2, 2 * s
            return s**2, 2 * s, 2 * s, 2 * s

        return mutant

    return build


def batch_powers_swapped(ns):
    def mutant(xs, ys, w2, w1, b, reduction):
        s = w2 * xs**2 + w1 * xs + b - ys
        scale = 1 / len(xs) if reduction == "mean" else 1.0
        return (
            scale * (s**2).sum(),
            scale * (2 * s * xs).sum(),
            scale * (2 * s * xs**2).sum(),
            scale * (2 * s).sum(),
        )

    return mutant


def predict_with(reduction):
    """Unit 4, exercise 3: the prediction made with one reduction whatever was asked."""

    def build(ns):
        def mutant(x_data, c, w0, lr, epochs, batch_size, asked):
            factor = 1.0
            for start in range(0, len(x_data), batch_size):
                batch = x_data[start : start + batch_size]
                squares = sum(x * x for x in batch)
                if reduction == "mean":
                    squares /= len(batch)
                factor *= 1 - 2 * lr * squares
            return c + (w0 - c) * factor**epochs

        return mutant

    return build


def accumulated_training(mistake):
    """Unit 4, exercise 4 with one mistake: gradients never zeroed or zeroed per sample, the loss summed, or
    mini-batches in the data's order."""

    def build(ns):
        def mutant(x_data, y_data, init, lr, epochs, batch_size, seed):
            xs = torch.tensor(x_data, dtype=torch.float64)
            ys = torch.tensor(y_data, dtype=torch.float64)
            params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]
            optimizer = torch.optim.SGD(params, lr=lr)
            g = torch.Generator().manual_seed(seed)
            history, losses, running = [[p.item() for p in params]], [], []
            for _ in range(epochs):
                order = (
                    torch.arange(len(xs))
                    if mistake == "not_shuffled"
                    else torch.randperm(len(xs), generator=g)
                )
                for start in range(0, len(xs), batch_size):
                    batch = order[start : start + batch_size].tolist()
                    if mistake != "grad_not_zeroed":
                        optimizer.zero_grad()
                    total = 0.0
                    for i in batch:
                        if mistake == "grad_zeroed_per_sample":
                            optimizer.zero_grad()
                        loss = (params[0] * xs[i] ** 2 + params[1] * xs[i] + params[2] - ys[i]) ** 2
                        if mistake != "batch_loss_summed":
                            loss = loss / len(batch)
                        loss.backward()
                        total += loss.item()
                        running.append([p.grad.item() for p in params])
                    optimizer.step()
                    losses.append(total)
                    history.append([p.item() for p in params])
            return tuple(torch.tensor(v, dtype=torch.float64) for v in (history, losses, running))

        return mutant

    return build


def line_fit(mistake):
    """Unit 4, exercise 5 with one bug left: gradients cleared once per epoch, or the loss summed."""

    def build(ns):
        def mutant(x_data, y_data, init, lr, epochs, batch_size):
            xs = torch.tensor(x_data, dtype=torch.float64)
            ys = torch.tensor(y_data, dtype=torch.float64)
            w, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init)
            history = [(w.item(), b.item())]
            for _ in range(epochs):
                w.grad, b.grad = None, None
                for start in range(0, len(xs), batch_size):
                    x, y = xs[start : start + batch_size], ys[start : start + batch_size]
                    squares = (w * x + b - y) ** 2
                    loss = squares.sum() if mistake == "batch_loss_summed" else squares.mean()
                    loss.backward()
                    with torch.no_grad():
                        w -= lr * w.grad
                        b -= lr * b.grad
                    if mistake != "grad_not_zeroed":
                        w.grad, b.grad = None, None
                    history.append((w.item(), b.item()))
            return history

        return mutant

    return build


def log_softmax_with(mistake):
    """Unit 6, exercise 1: the log-softmax with one mistake, in the forward pass or in the backward pass."""

    def build(ns):
        def mutant(Z, dA):
            if mistake == "not_shifted":
                m = torch.zeros_like(Z[:, :1])
            elif mistake == "global_max":
                m = Z.max()  # one maximum for the whole tensor
            else:
                m = Z.max(dim=1, keepdim=True).values
            A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
            P = torch.exp(A)
            row_sum = dA.sum(dim=1, keepdim=True)
            at_max = torch.nn.functional.one_hot(Z.argmax(dim=1), Z.shape[1]).to(Z.dtype) * row_sum
            dZ = {
                "minus_m_only": dA - P * row_sum - at_max,  # the maximum's path through −m alone
                "log_sum_only": dA - P * row_sum + at_max,  # its path through the log-sum alone
                "diagonal": dA * (1 - P),
                "row_sum": dA - P,
            }.get(mistake, dA - P * row_sum)
            return A, dZ

        return mutant

    return build


def embedding_with(mistake):
    def build(ns):
        def mutant(idx, dOut, V, padding_idx=None):
            D = dOut.shape[-1]
            dE = torch.zeros(V, D, dtype=dOut.dtype)
            if mistake == "overwritten":
                dE[idx.reshape(-1)] = dOut.reshape(-1, D)  # repeated rows keep one gradient
            else:
                dE.index_add_(0, idx.reshape(-1), dOut.reshape(-1, D))
            if padding_idx is not None and mistake != "padding":
                dE[padding_idx] = 0.0
            return dE

        return mutant

    return build


def tied_with(mistake):
    def build(ns):
        def mutant(X, W, b1, b2):
            N, D = X.shape
            H = torch.tanh(X @ W + b1)
            dX_hat = 2 * (H @ W.T + b2 - X) / (N * D if mistake == "mse_loss" else N)
            decoder = dX_hat.T @ H
            derivative = 1.0 if mistake == "no_tanh" else 1 - H**2
            encoder = X.T @ ((dX_hat @ W) * derivative)
            return {"encoder_only": encoder, "decoder_only": decoder}.get(mistake, encoder + decoder)

        return mutant

    return build


def normalize_with(mistake):
    def build(ns):
        def mutant(X, dY, dim, eps):
            axis = 1 - dim if mistake == "wrong_axis" else dim
            mu = X.mean(dim=axis, keepdim=True)
            var = X.var(dim=axis, keepdim=True, correction=1 if mistake == "unbiased" else 0)
            sigma = torch.sqrt(var + eps)
            Y = (X - mu) / sigma
            through_mean = dY.mean(dim=axis, keepdim=True)
            through_var = Y * (dY * Y).mean(dim=axis, keepdim=True)
            if mistake == "constant":
                return dY / sigma
            if mistake == "no_variance_path":
                return (dY - through_mean) / sigma
            if mistake == "no_mean_path":
                return (dY - through_var) / sigma
            return (dY - through_mean - through_var) / sigma

        return mutant

    return build


def steps_replacing_grad(ns):
    def mutant(steps, w0, x, y, lr):
        w, grad = w0, None
        for step in steps:
            if step == "backward":
                grad = 2 * (x * w - y) * x  # .grad replaced, not added to
            elif step == "step" and grad is not None:
                w = w - lr * grad
            elif step == "zero" and grad is not None:
                grad = 0.0
            elif step == "none":
                grad = None
        return w, grad

    return mutant


def microbatch_scaled(by):
    """Unit 3, exercise 2: each micro-batch's mean not divided, divided by k, or w.grad kept uncopied."""

    def build(ns):
        def mutant(w, X, y, sizes):
            w = w.detach().clone().requires_grad_(True)
            rows = []
            for Xs, ys in zip(X.split(sizes), y.split(sizes), strict=True):
                scale = {"one": 1.0, "k": 1.0 / len(sizes)}.get(by, len(Xs) / len(X))
                (((Xs @ w - ys) ** 2).mean() * scale).backward()
                rows.append(w.grad if by == "alias" else w.grad.detach().clone())
            return torch.stack(rows).detach()

        return mutant

    return build


def inplace_rule(consumers):
    def build(ns):
        def mutant(chain, edited):
            if not consumers:
                return bool(edited)  # every in-place edit breaks
            made = {"exp", "sigmoid", "tanh", "sqrt", "relu"}
            return any(i >= 1 and chain[i - 1] in made for i in edited)  # only the producer counts

        return mutant

    return build


def hvp_with_ones(ns):
    def mutant(A, x, v):
        x = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.logsumexp(A @ x, dim=0), x, create_graph=True)
        (hv,) = torch.autograd.grad(g.sum(), x)  # H·1 instead of H·v
        return g.detach(), hv.detach()

    return mutant


def per_sample_from_batch(ns):
    def mutant(w, X, y):
        from torch.func import grad, vmap

        batch = grad(lambda w: torch.nn.functional.softplus(-y * (X @ w)).mean())(w)
        return vmap(lambda x: batch + 0 * x)(X)  # the batch gradient in every row

    return mutant


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
    "test_log_softmax_forward_backward": {
        "softmax_not_shifted": [log_softmax_with("not_shifted")],
        "softmax_global_max": [log_softmax_with("global_max")],
        "fork_branch_missing": [log_softmax_with("minus_m_only"), log_softmax_with("log_sum_only")],
        "jacobian_diagonal_only": [log_softmax_with("diagonal")],
        "row_sum_missing": [log_softmax_with("row_sum")],
    },
    "test_embedding_backward": {
        "embedding_repeats_overwritten": [embedding_with("overwritten")],
        "embedding_padding_not_zeroed": [embedding_with("padding")],
    },
    "test_tied_autoencoder_grad": {
        "fork_branch_missing": [tied_with("encoder_only"), tied_with("decoder_only")],
        "inner_factor_missing": [tied_with("no_tanh")],
        "mse_loss_convention": [tied_with("mse_loss")],
    },
    "test_normalize_backward": {
        "norm_statistics_constant": [normalize_with("constant")],
        "norm_variance_path_missing": [normalize_with("no_variance_path")],
        "norm_mean_path_missing": [normalize_with("no_mean_path")],
        "norm_unbiased_variance": [normalize_with("unbiased")],
        "norm_wrong_axis": [normalize_with("wrong_axis")],
    },
    "test_quadratic_loss_and_grads": {
        "powers_swapped": [quadratic_mistake("swapped")],
        "inner_factor_missing": [quadratic_mistake("no inner")],
    },
    "test_batch_loss_and_grads": {"powers_swapped": [batch_powers_swapped]},
    "test_predict_w": {
        "batch_loss_summed": [predict_with("sum")],
        "batch_loss_averaged": [predict_with("mean")],
    },
    "test_train_accumulated": {
        key: [accumulated_training(key)]
        for key in ("grad_not_zeroed", "grad_zeroed_per_sample", "batch_loss_summed", "not_shuffled")
    },
    "test_fit_line": {
        "grad_not_zeroed": [line_fit("grad_not_zeroed")],
        "batch_loss_summed": [line_fit("batch_loss_summed")],
    },
    "test_grad_after": {"grad_replaced": [steps_replacing_grad]},
    "test_microbatch_gradient": {
        "microbatch_not_divided": [microbatch_scaled("one")],
        "microbatch_divided_by_k": [microbatch_scaled("k")],
        "grad_aliased": [microbatch_scaled("alias")],
    },
    "test_breaks_backward": {
        "inplace_consumer_ignored": [inplace_rule(consumers=True)],
        "inplace_always_breaks": [inplace_rule(consumers=False)],
    },
    "test_grad_and_hvp": {"hvp_without_v": [hvp_with_ones]},
    "test_per_sample_grads": {"per_sample_batch_gradient": [per_sample_from_batch]},
}


@dataclass(frozen=True)
class Edit:
    """A mistake planted in the source of a solution cell: each ``old`` text replaced by its ``new``.

    For a mistake inside a class (unit 5's ``Value`` engine), where no single function can be swapped:
    the notebook's cells run again with the edited cell, and the test sees the mistaken engine."""

    cell: str  # the solution cell's grade id
    replace: tuple[tuple[str, str], ...]

    def apply(self, source: str) -> str:
        for old, new in self.replace:
            assert old in source, f"{self.cell}: {old!r} is not in the solution"
            source = source.replace(old, new)
        return source


VALUE_ASSIGNS = Edit("value_class", ((".grad += ", ".grad = "),))
VALUE_WITHOUT_CHAIN = Edit("value_class", ((" * out.grad", ""),))
VALUE_WRONG_OPERAND = Edit(
    "value_class",
    (
        ("self.grad += other.data * out.grad", "self.grad += self.data * out.grad"),
        ("other.grad += self.data * out.grad", "other.grad += other.data * out.grad"),
    ),
)
EDITS = {  # grade id: {mistake id: [edits of a solution cell that make that mistake]}
    "test_value_ops": {
        "fork_branch_missing": [VALUE_ASSIGNS],
        "out_grad_missing": [VALUE_WITHOUT_CHAIN],
        "product_wrong_operand": [VALUE_WRONG_OPERAND],
    },
    "test_topological_order": {
        "topo_order_reversed": [
            Edit("topological_order", (("    return order\n", "    return order[::-1]\n"),))
        ]
    },
    "test_backward": {
        "fork_branch_missing": [VALUE_ASSIGNS],
        "out_grad_missing": [VALUE_WITHOUT_CHAIN],
        "product_wrong_operand": [VALUE_WRONG_OPERAND],
        "backward_wrong_order": [Edit("backward", (("in reversed(order):", "in order:"),))],
    },
    "test_sigmoid": {
        "fork_branch_missing": [Edit("sigmoid", (("self.grad += s", "self.grad = s"),))],
        "out_grad_missing": [Edit("sigmoid", ((" * out.grad", ""),))],
    },
    "test_train": {"grad_not_zeroed": [Edit("train", (("p.grad = 0.0  #", "pass  #"),))]},
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
        self.path = path
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

    def edited(self, edit):
        """The namespace of the notebook's cells run with ``edit`` planted in its solution cell."""
        namespace = {}
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in self.nb.cells:
                if cell.cell_type != "code" or is_test(cell):
                    continue
                code = (
                    edit.apply(cell.source)
                    if nbgrader_meta(cell).get("grade_id") == edit.cell
                    else cell.source
                )
                exec(compile(code, f"<{self.path.parent.name}>", "exec"), namespace)
        return namespace

    def tests(self):
        return [c for c in self.nb.cells if is_test(c)]

    def run(self, code, student=None, registered=None):
        """Run test code in a copy of the namespace, with some student names replaced; None or the error."""
        ns = dict(self.namespace)
        ns.update(student or {})
        if student:  # the mutants are this module's code: what the rules find in it is tests/test_rules.py's
            ns.update({name: lambda *a, **k: None for name in ("assert_rules", *SHORT_FORMS)})
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
    if not functions and grade_id not in EDITS:
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
        edits = EDITS.get(grade_id, {})
        assert registered <= set(expected) | set(edits), (
            f"{grade_id}: write a mutant for {sorted(registered - set(expected) - set(edits))}"
        )
        for key in sorted(registered & set(expected)):
            for build in expected[key]:
                (name,) = functions
                attempt({name: build(exercise.namespace)}, {key}, f"{key} ({build.__name__})")
        for key in sorted(registered & set(edits)):
            for edit in edits[key]:
                attempt(exercise.edited(edit), {key}, f"{key} (planted in {edit.cell})")
        for key in sorted((set(expected) | set(edits)) - registered):
            problems.append(f"{part}: registers no {key!r}, though a mutant is written for it")
    assert not problems, f"{grade_id}:\n" + "\n".join(problems)


def test_a_nan_from_torch_where_is_named(exercises):
    """Unit 3's NaN-safe exercise: the naive torch.where form, finite values but NaN gradients, fails every
    part with the message that names the side torch.where did not take."""
    (path,) = [p for p in ASSIGNMENTS if p.parent.name == "unit03"]
    exercise = exercises[path]
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == "test_safe_f_and_grad"]

    def naive(x):
        x = x.detach().clone().requires_grad_(True)
        values = torch.where(x > 0, x**2 * torch.log(x), 0.0)
        values.sum().backward()
        return values.detach(), x.grad.detach()

    for part, (right, wrong) in parts(cell.source).items():
        failure = exercise.run(
            right + "\n__mutate__()\n" + wrong, {"__mutate__": swap({"safe_f_and_grad": naive})}
        )
        assert failure is not None, f"{part}: the naive torch.where form passes"
        assert "differentiates the side it did not take" in str(failure), f"{part}: {failure}"
