"""Property-based: for random compositions of elementwise functions, the gradient derived independently
(forward-mode in NumPy, not autograd) always passes the checker, and any perturbation outside the
tolerance always fails it, with the perturbed element named."""

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import ATOL, RTOL, check_gradient

# name: (torch function, numpy value, numpy derivative)
UNARY = {
    "sin": (torch.sin, np.sin, np.cos),
    "cos": (torch.cos, np.cos, lambda v: -np.sin(v)),
    "tanh": (torch.tanh, np.tanh, lambda v: 1 - np.tanh(v) ** 2),
    "sigmoid": (torch.sigmoid, lambda v: 1 / (1 + np.exp(-v)), lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2),
    "square": (lambda t: t**2, np.square, lambda v: 2 * v),
    "exp_tanh": (
        lambda t: torch.exp(torch.tanh(t)),
        lambda v: np.exp(np.tanh(v)),
        lambda v: np.exp(np.tanh(v)) * (1 - np.tanh(v) ** 2),
    ),
}


@dataclass(frozen=True)
class Expr:
    """A tree over one input x: leaves are x or a constant, nodes are unary ops, + and ×."""

    op: str
    args: tuple = ()
    const: float = 0.0

    def torch(self, x):
        if self.op == "x":
            return x
        if self.op == "const":
            return torch.full_like(x, self.const)
        if self.op in ("+", "*"):
            a, b = (arg.torch(x) for arg in self.args)
            return a + b if self.op == "+" else a * b
        return UNARY[self.op][0](self.args[0].torch(x))

    def dual(self, x):
        """(value, d value / d x) elementwise, by the chain rule written out in NumPy."""
        if self.op == "x":
            return x, np.ones_like(x)
        if self.op == "const":
            return np.full_like(x, self.const), np.zeros_like(x)
        if self.op in ("+", "*"):
            (a, da), (b, db) = (arg.dual(x) for arg in self.args)
            return (a + b, da + db) if self.op == "+" else (a * b, da * b + a * db)
        inner, dinner = self.args[0].dual(x)
        _, value, derivative = UNARY[self.op]
        return value(inner), derivative(inner) * dinner


leaves = st.one_of(
    st.just(Expr("x")),
    st.floats(-2, 2, allow_nan=False).map(lambda c: Expr("const", const=c)),
)
exprs = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), inner).map(lambda t: Expr(t[0], (t[1],))),
        st.tuples(st.sampled_from(["+", "*"]), inner, inner).map(lambda t: Expr(t[0], (t[1], t[2]))),
    ),
    max_leaves=6,
)
shapes = st.sampled_from([(), (3,), (2, 3), (4, 1)])


@st.composite
def problems(draw):
    expr = draw(exprs)
    shape = draw(shapes)
    seed = draw(st.integers(0, 2**31 - 1))
    x = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    reduce = draw(st.sampled_from(["sum", "mean"]))
    return expr, x, reduce


def independent_gradient(expr, x, reduce):
    _, diag = expr.dual(x)  # elementwise ops: the Jacobian is diagonal
    return np.asarray(diag / x.size if reduce == "mean" else diag)


def as_function(expr, reduce):
    def f(x):
        y = expr.torch(x)
        return y.mean() if reduce == "mean" else y.sum()

    return f


@settings(max_examples=200, deadline=None)
@given(problems(), st.sampled_from(["tensor", "float32", "ndarray", "list"]))
def test_correct_gradient_always_passes(problem, container):
    expr, x, reduce = problem
    grad = independent_gradient(expr, x, reduce)
    given_value = {
        "tensor": torch.from_numpy(grad),
        "float32": torch.from_numpy(grad).float(),  # rounding: relative error 6e-8, inside RTOL
        "ndarray": grad,
        "list": grad.tolist(),
    }[container]
    report = check_gradient(given_value, as_function(expr, reduce), x)
    assert report.ok, (expr, report.message("en"))


@settings(max_examples=200, deadline=None)
@given(problems(), st.data())
def test_perturbed_gradient_always_fails_and_is_located(problem, data):
    expr, x, reduce = problem
    grad = np.array(independent_gradient(expr, x, reduce), dtype=np.float64)
    index = data.draw(st.sampled_from(list(np.ndindex(grad.shape))))
    relative = data.draw(st.floats(1e-4, 10.0))
    sign = data.draw(st.sampled_from([-1.0, 1.0]))
    bound = ATOL + RTOL * abs(grad[index])
    wrong = grad.copy()
    wrong[index] += sign * (2 * bound + relative * abs(grad[index]))
    report = check_gradient(wrong, as_function(expr, reduce), x)
    assert not report.ok
    (verdict,) = report.verdicts
    expected_index = "[" + ", ".join(map(str, index)) + "]"
    assert verdict.key in ("mismatch", "mismatch_scalar")
    if verdict.key == "mismatch":
        assert verdict.params["index"] == expected_index and verdict.params["count"] == 1


anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.complex_numbers(),
        st.text(max_size=3),
        st.binary(max_size=3),
        st.builds(torch.randn, st.integers(0, 3)),
        st.builds(lambda n: torch.randn(n, requires_grad=True), st.integers(0, 3)),
        st.builds(lambda n: torch.zeros(n).to_sparse(), st.integers(1, 3)),
        st.builds(lambda n: torch.empty(n, device="meta"), st.integers(1, 3)),
        st.builds(lambda n: np.arange(n, dtype=object), st.integers(0, 3)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=2), inner, max_size=2),
        st.sets(st.integers(), max_size=2),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(anything, st.sampled_from([0.5, [1.0, 2.0], [[1.0], [2.0]]]))
def test_checker_never_raises_on_a_student_value(value, expected):
    """Whatever a student returns, the checker answers with a verdict, never a traceback of its own."""
    report = check_gradient(value, lambda x: (x**2).sum() / 2, expected)
    assert report.message("en")
    if not report.ok:
        assert report.message("en").startswith("✘")
