"""Shortcuts earn nothing: for every graded exercise, an answer that takes each shortcut its rules refuse
scores 0 on that exercise under ``course grade``, and the visible test says so at once in the student's
kernel. The reference solution keeps every point.

Two kinds of shortcut submission:

- **planted**: the reference solution, right in every number, with the construct of one kind of finding
  added to its answer cell (``PLANTED``: a finite difference, autograd, the course's package, torch in a
  prediction, recursion, a loop, ``.data``, a library softmax, a ready-made Jacobian, dynamic code). One
  student per kind, every exercise whose rules refuse that kind planted at once. Only the rule can take
  the points away, so each exercise's rule is proven under ``course grade``;
- **real**: answers a lazy student would hand in (``REAL``), each right by the numbers, with no reference
  solution behind it: the finite-difference chain rule, a prediction that runs PyTorch in ``try/except``,
  an engine that asks the course's package for every local gradient, a recursive sort with a raised limit,
  a per-sample loop, one backward() for the whole batch, every row of a Jacobian from one batched
  ``torch.autograd.grad``.

How each rewrite of a shortcut is recognised is tested in ``tests/test_rules.py``; what stock
``nbgrader autograde`` does with these answers is in the README (its kernel runs the same rules).
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import re

import nbformat
import pytest

from autograder.checker import CheckFailed, Parts
from autograder.grading.cells import is_instructor, is_test, nbgrader_meta, split_hidden
from autograder.rules import RULES, SHORT_FORMS
from tests.classes import COURSE, answered, cell_scores, course, new_class, submit
from tests.test_rules import FUNCTORCH, rule_calls

pytestmark = pytest.mark.grading

LIMITS = ["--cell-timeout", "30", "--timeout", "300"]

# one construct of each kind of finding, as the body of a helper planted in the answer's cell
PLANTED = {
    "autograd": "import torch\n    t = torch.tensor(1.0, requires_grad=True)\n"
    "    (t * t).backward()\n    return t.grad",
    "numeric": "f = lambda t: t * t\n    h = 1e-6\n    return (f(1.0 + h) - f(1.0 - h)) / (2 * h)",
    "package": "from autograder.checker import reference_gradient\n    return reference_gradient",
    "dynamic": 'return getattr(object, "__name__")',
    "jacobian": "import torch\n    return torch.autograd.functional.jacobian(torch.sin, torch.ones(2))",
    "torch": "import torch\n    return torch.ones(1)",
    "recursion": "return _shortcut()",
    "loops": "for _ in range(1):\n        pass",
    "vmap": "import torch\n    torch.ones(1, requires_grad=True).sum().backward()",
    "data": "import torch\n    return torch.ones(1).data",
    "softmax": "import torch\n    return torch.softmax(torch.ones(2), 0)",
    "logsumexp": "import torch\n    return torch.logsumexp(torch.ones(2), 0)",
    "eigensolver": "import numpy\n    return numpy.linalg.eigvals(numpy.eye(2))",
    "create_graph": "import torch\n    return torch.func.grad(torch.sin)(torch.ones(()))",
    "function_autograd": "import torch\n    t = torch.tensor(1.0, requires_grad=True)\n"
    "    return torch.autograd.grad(t * t, t)",
    "engine_in_rule": "out = Value(1.0)\n    out.local_backward = lambda: out.backward()\n    return out",
    "libraries": "import numpy\n    return numpy.exp(1.0)",
}
MESSAGES = {  # kind → words of its English message, to see that the visible test names it
    "autograd": "automatic differentiation",
    "numeric": "numerical differentiation",
    "package": "course's own package",
    "dynamic": "cannot be checked by reading it",
    "jacobian": "ready-made Jacobian",
    "torch": "predict what PyTorch does",
    "recursion": "recurses",
    "loops": "Python loop",
    "vmap": "vmap",
    "data": ".data",
    "softmax": "yourself",
    "logsumexp": "yourself",
    "eigensolver": "linear algebra",
    "create_graph": "differentiated again",
    "function_autograd": "inside its torch.autograd.Function",
    "engine_in_rule": "asks the engine",
    "libraries": "float and math only",
}

REAL = {  # (assignment, answer cell's grade id, the test cells it must score 0 on): a lazy student's answer
    ("unit01", "self_power_backward", "test_self_power_backward"): """
def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)
def self_power_backward(x, upstream):
    via_base = upstream * central(lambda a: a ** x, x)
    via_exponent = upstream * central(lambda b: x ** b, x)
    return via_base, via_exponent, via_base + via_exponent
""",
    ("unit01", "nested_max_backward", "test_nested_max_backward"): """
import torch
def nested_max_backward(x, y, z):
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, y, z)]
    torch.maximum(torch.maximum(leaves[0], leaves[1]), leaves[2]).backward()
    return tuple(leaf.grad.item() for leaf in leaves)
""",
    ("unit01", "staged_sigmoid_backward", "test_staged_sigmoid_backward"): """
import torch
def staged_sigmoid_backward(w, x, b):
    def slope(f, v, h=1e-6):
        return (f(v + h) - f(v - h)) / (2 * h)
    z = torch.dot(w, x) + b
    n = -z
    e = torch.exp(n)
    d = 1.0 + e
    f = 1.0 / d
    grads = []
    for i in range(len(w)):
        def along(t, i=i, which="w"):
            moved = w.clone()
            moved[i] = t
            return torch.sigmoid(moved @ x + b)
        grads.append(slope(along, w[i]))
    df_dw = torch.stack(grads)
    df_dz = slope(lambda t: 1 / (1 + torch.exp(-t)), z)
    return (f, slope(lambda t: 1 / t, d), slope(lambda t: 1 / (1 + t), e),
            slope(lambda t: 1 / (1 + torch.exp(t)), n), df_dz, df_dw, df_dz * w, df_dz)
""",
    ("unit02", "cdf_vjp", "test_cdf_vjp"): """
def cdf_vjp(x, v):
    x = x.detach().clone().requires_grad_(True)
    y = x.cumsum(0) / x.sum()
    y.backward(gradient=v)  # the very call the exercise describes: autograd where a derivation is asked
    return y.detach(), x.grad
""",
    ("unit02", "layer_jacobian", "test_layer_jacobian"): """
import torch
def layer_jacobian(X, W):
    Y = layer(X, W)
    every_row = torch.eye(Y.numel(), dtype=Y.dtype).reshape(-1, *Y.shape)
    # one call for all the rows: vmap inside, the whole Jacobian at once
    (J,) = torch.autograd.grad(Y, X, grad_outputs=every_row, is_grads_batched=True)
    return J.reshape(Y.numel(), -1)
""",
    ("unit03", "breaks_backward", "test_breaks_backward"): """
def breaks_backward(chain, edited):
    import torch
    ops = {"exp": torch.exp, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "sqrt": torch.sqrt,
           "relu": torch.relu, "sin": torch.sin, "cos": torch.cos, "log": torch.log,
           "square": lambda t: t ** 2,
           "add1": lambda t: t + 1, "neg": torch.neg}
    x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
    t = [x.clone()]
    for name in chain:
        t.append(ops[name](t[-1]))
    loss = t[-1].sum()
    for i in edited:
        t[i].mul_(2)
    try:
        loss.backward()
    except RuntimeError:
        return True
    return False
""",
    ("unit03", "hooked_grad", "test_hooked_grad"): """
def hooked_grad(x0, w, c, m, hooked):
    import torch
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    u = w * x
    a = torch.sin(u)
    b = u + u
    f = a + c * b**2
    tensors = {"x": x, "u": u, "a": a, "b": b}
    for name in hooked:
        tensors[name].register_hook(lambda grad: grad.clamp(-m, m))
    f.backward()
    return x.grad.item()
""",
    ("unit03", "kink_gradient", "test_kink_gradient"): """
import torch
def kink_gradient(terms, xs):
    F = torch.nn.functional
    terms_of = {
        "relu": lambda x, i: torch.relu(x[i]), "abs": lambda x, i: torch.abs(x[i]),
        "leaky_relu": lambda x, i, s: F.leaky_relu(x[i], s), "hardtanh": lambda x, i: F.hardtanh(x[i]),
        "clamp": lambda x, i, lo, hi: torch.clamp(x[i], lo, hi),
        "maximum": lambda x, i, j: torch.maximum(x[i], x[j]),
        "minimum": lambda x, i, j: torch.minimum(x[i], x[j]),
        "amax": lambda x, *idx: x[list(idx)].amax(),
    }
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    sum(coef * terms_of[name](x, *args) for coef, name, *args in terms).backward()
    return x.grad.tolist()
""",
    ("unit03", "where_grad_is_nan", "test_where_grad_is_nan"): """
def where_grad_is_nan(chain, x0):
    import torch
    ops = {"sqrt": torch.sqrt, "log": torch.log, "exp": torch.exp, "reciprocal": torch.reciprocal,
           "square": lambda t: t**2, "sin": torch.sin, "tanh": torch.tanh, "neg": torch.neg,
           "add1": lambda t: t + 1}
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    t = x
    for name in chain:
        t = ops[name](t)
    torch.where(x > 0, t, 0.0).sum().backward()
    return bool(torch.isnan(x.grad).any())
""",
    ("unit03", "penalty_grads", "test_penalty_grads"): """
import torch
def penalty_grads(X, y, W, a, lam):
    def J(W, a):  # the penalty by a first-order gradient only: no create_graph anywhere
        inputs = X.detach().clone().requires_grad_(True)
        out = torch.tanh(inputs @ W) @ a
        (input_grad,) = torch.autograd.grad(out.sum(), inputs)
        return (((out - y) ** 2).mean() + lam * (input_grad**2).sum(dim=1).mean()).item()
    h = 1e-6
    grads = []
    for p in (W, a):
        g = torch.zeros_like(p)
        for i in range(p.numel()):
            up, down = p.detach().clone(), p.detach().clone()
            up.view(-1)[i] += h
            down.view(-1)[i] -= h
            pair = (up, a) if p is W else (W, up)
            low = (down, a) if p is W else (W, down)
            g.view(-1)[i] = (J(*pair) - J(*low)) / (2 * h)
        grads.append(g)
    return grads[0], grads[1]
""",
    (
        "unit05",
        "value_class",
        "test_value_core test_backward test_new_operations test_dot test_no_grad test_train "
        "test_norm_logsumexp",
    ): """
from autograder.expressions import torch_local


class Value:
    \"\"\"Every rule asks the course's package what the parents' gradients are after it.\"\"\"

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.op = op
        self.local_backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def _node(self, op, other=None, number=None):
        inputs = [self] if other is None or other is self else [self, other]

        def step(upstream):
            grads = [v.grad for v in inputs]
            return torch_local(op, [v.data for v in inputs], number, grads, upstream, other is self)

        out = Value(step(0.0)[0], (self,) if other is None else (self, other), op)

        def local_backward():
            for node, grad in zip(inputs, step(out.grad)[1]):
                node.grad = grad

        out.local_backward = local_backward
        return out

    def __add__(self, other):
        return self._node("+", other if isinstance(other, Value) else Value(other))

    def __mul__(self, other):
        return self._node("*", other if isinstance(other, Value) else Value(other))

    def __pow__(self, k):
        return self._node("**", number=k)

    def tanh(self):
        return self._node("tanh")

    def relu(self):
        return self._node("relu")

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __rtruediv__(self, other):
        return self**-1 * other
""",
    ("unit04", "huber_power_loss_and_grads", "test_huber_power_loss_and_grads"): """
import torch
def huber_power_loss_and_grads(xs, ys, a, k, delta):
    L = lambda a, k: torch.nn.functional.huber_loss(a * xs ** k, ys, delta=delta)
    h = 1e-6
    return L(a, k), (L(a + h, k) - L(a - h, k)) / (2 * h), (L(a, k + h) - L(a, k - h)) / (2 * h)
""",
    ("unit04", "predict_momentum", "test_predict_momentum"): """
import torch
def predict_momentum(theta0, g, lr, steps, momentum, dampening, nesterov):
    theta = torch.tensor([theta0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov)
    done = min(steps, 2000)
    for _ in range(done):
        optimizer.zero_grad()
        (g * theta).sum().backward()
        optimizer.step()
    buffer = optimizer.state[theta]["momentum_buffer"].item()  # settled by now: every later step is the same
    return theta.item() - (steps - done) * lr * (g + momentum * buffer if nesterov else buffer)
""",
    ("unit04", "largest_stable_lr", "test_largest_stable_lr"): """
import numpy as np
def largest_stable_lr(mean_x, mean_x2, momentum, dampening, weight_decay):
    hessian = np.array([[2 * mean_x2, 2 * mean_x], [2 * mean_x, 2.0]])
    hessian += weight_decay * np.eye(2)
    kept, carried = (1 - dampening) * hessian, momentum * np.eye(2)

    def unstable(lr):  # the step map on (θ, b): b ← μ·b + (1 − τ)·H·θ, θ ← θ − lr·b
        if momentum == 0:
            return max(abs(np.linalg.eigvals(np.eye(2) - lr * hessian))) > 1
        step = np.block([[np.eye(2) - lr * kept, -lr * carried], [kept, carried]])
        return max(abs(np.linalg.eigvals(step))) > 1

    low, high = 0.0, 1.0
    while not unstable(high):
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if unstable(middle) else (middle, high)
    return (low + high) / 2
""",
    ("unit05", "norm_logsumexp", "test_norm_logsumexp"): """
import torch


def _many(function, xs, op):
    \"\"\"One node whose local gradients torch.autograd computes: nothing derived by hand.\"\"\"
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(function(torch.tensor([x.data for x in xs], dtype=torch.float64)).item(), xs, op)

    def local_backward():
        slots = torch.tensor([x.data for x in xs], dtype=torch.float64, requires_grad=True)
        (local,) = torch.autograd.grad(function(slots), slots)
        for x, share in zip(xs, local.tolist()):
            x.grad += share * out.grad

    out.local_backward = local_backward
    return out


def norm(xs):
    return _many(torch.linalg.vector_norm, xs, "norm")


def logsumexp(xs):
    return _many(lambda t: torch.logsumexp(t, 0), xs, "logsumexp")
""",
    ("unit06", "normalize_backward", "test_normalize_backward"): """
import torch
def normalize_backward(X, gamma, dY, dim, eps):
    X, gamma = X.detach().clone().requires_grad_(True), gamma.detach().clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    mu = X.mean(dim=dim, keepdim=True)
    Y = gamma * (X - mu) / torch.sqrt(((X - mu) ** 2).mean(dim=dim, keepdim=True) + eps) + beta
    Y.backward(dY)
    return X.grad, gamma.grad, beta.grad
""",
    ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"): """
import torch
def log_softmax_forward_backward(Z, dA):
    A = Z - torch.logcumsumexp(Z, 1)[:, -1:]  # the last column of a cumulative log-sum-exp: the stable one
    return A, dA - torch.exp(A) * dA.sum(dim=1, keepdim=True)
""",
    ("unit06", "SquaredDistance", "test_squared_distance_function"): """
import torch
class SquaredDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return ((X.unsqueeze(1) - Y.unsqueeze(0)) ** 2).sum(dim=2)

    @staticmethod
    def backward(ctx, grad_output):
        X, Y = ctx.saved_tensors
        with torch.enable_grad():
            X, Y = X.detach().requires_grad_(), Y.detach().requires_grad_()
            S = ((X.unsqueeze(1) - Y.unsqueeze(0)) ** 2).sum(dim=2)
            dX, dY = torch.autograd.grad(S, (X, Y), grad_output)
        return (dX if ctx.needs_input_grad[0] else None), (dY if ctx.needs_input_grad[1] else None)
""",
}


ALSO_REAL = [  # more lazy answers to an exercise REAL already tries: (assignment, answer, tests), the answer
    (  # a judge's: the documentation's rule followed until the buffer settles, then the rest as a product
        ("unit04", "predict_momentum", "test_predict_momentum"),
        """
def predict_momentum(theta0, g, lr, steps, momentum, dampening, nesterov):
    theta, buffer, done = theta0, None, 0
    while done < steps:  # the documentation's rule, step by step, until the buffer settles
        new = g if buffer is None else momentum * buffer + (1 - dampening) * g
        settled, buffer = new == buffer, new
        theta -= lr * (g + momentum * buffer if nesterov else buffer)
        done += 1
        if settled:
            break
    moved = g + momentum * buffer if nesterov else buffer  # every later step moves θ alike
    return theta - (steps - done) * lr * moved
""",
    ),
    (  # a judge's: SGD's step in pure Python, power iteration, and a bisection on the sign of the growth
        ("unit04", "largest_stable_lr", "test_largest_stable_lr"),
        """
import math


def largest_stable_lr(mean_x, mean_x2, momentum, dampening, weight_decay):
    spread = max(mean_x2 - mean_x**2, 0.0) ** 0.5
    xs = [mean_x - spread, mean_x + spread]  # two samples with these two means: the same bowl

    def growth(lr):  # power iteration on SGD's step, targets 0: the mean log growth of the state's size
        w, b, bw, bb = 0.6, -0.3, 0.2, 0.5
        total = 0.0
        for step in range(3000):
            gw = sum(2 * (w * x + b) * x for x in xs) / 2 + weight_decay * w
            gb = sum(2 * (w * x + b) for x in xs) / 2 + weight_decay * b
            if momentum:
                bw, bb = momentum * bw + (1 - dampening) * gw, momentum * bb + (1 - dampening) * gb
            else:
                bw, bb = gw, gb
            w, b = w - lr * bw, b - lr * bb
            size = math.sqrt(w * w + b * b + bw * bw + bb * bb)
            w, b, bw, bb = w / size, b / size, bw / size, bb / size
            if step >= 1000:
                total += math.log(size)
        return total / 2000

    low, high = 0.0, 1.0
    while growth(high) <= 0:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if growth(middle) > 0 else (middle, high)
    return (low + high) / 2
""",
    ),
    (  # a library's stable log-softmax: a distribution normalises its logits
        ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"),
        """
import torch
def log_softmax_forward_backward(Z, dA):
    A = torch.distributions.Multinomial(logits=Z).logits
    return A, dA - torch.exp(A) * dA.sum(dim=1, keepdim=True)
""",
    ),
    (  # central differences times the step's reciprocal: a division by it
        ("unit06", "normalize_backward", "test_normalize_backward"),
        """
import torch
def normalize_backward(X, gamma, dY, dim, eps):
    def L(X, gamma):
        mu = X.mean(dim=dim, keepdim=True)
        var = ((X - mu) ** 2).mean(dim=dim, keepdim=True)
        return float((gamma * (X - mu) / torch.sqrt(var + eps) * dY).sum())
    h = 1e-6
    out = []
    for which in (0, 1):
        args = [X, gamma]
        g = torch.zeros_like(args[which])
        for i in range(g.numel()):
            up, down = [a.clone() for a in args], [a.clone() for a in args]
            up[which].view(-1)[i] += h
            down[which].view(-1)[i] -= h
            g.view(-1)[i] = (L(*up) - L(*down)) * torch.reciprocal(torch.tensor(2 * h))
        out.append(g)
    return out[0], out[1], dY.sum(dim=0)
""",
    ),
    (
        ("unit02", "layer_jacobian", "test_layer_jacobian"),
        """
import torch
import torch.autograd.forward_ad as fwAD
def layer_jacobian(X, W):
    columns = []  # forward mode: a column per call, not one vector-Jacobian product per output entry
    with fwAD.dual_level():
        for index in range(X.numel()):
            tangent = torch.zeros(X.numel(), dtype=X.dtype)
            tangent[index] = 1.0
            dual = fwAD.make_dual(X.detach(), tangent.reshape(X.shape))
            columns.append(fwAD.unpack_dual(layer(dual, W)).tangent.reshape(-1))
    return torch.stack(columns, dim=1)
""",
    ),
    (
        ("unit05", "norm_logsumexp", "test_norm_logsumexp"),
        """
import numpy as np
from scipy.special import logsumexp as library_logsumexp, softmax


def norm(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    data = np.array([x.data for x in xs])
    out = Value(np.linalg.norm(data), xs, "norm")

    def local_backward():
        for x, share in zip(xs, data / np.linalg.norm(data)):
            x.grad += float(share) * out.grad

    out.local_backward = local_backward
    return out


def logsumexp(xs):
    \"\"\"The value and the shares from scipy: no shift, no derivation of one's own.\"\"\"
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    data = [x.data for x in xs]
    out = Value(float(library_logsumexp(data)), xs, "logsumexp")

    def local_backward():
        for x, share in zip(xs, softmax(data)):
            x.grad += float(share) * out.grad

    out.local_backward = local_backward
    return out
""",
    ),
    (  # torch reached without an import: object.__subclasses__() down to Tensor, its logsumexp and softmax
        ("unit05", "norm_logsumexp", "test_norm_logsumexp"),
        """
def norm(xs):
    \"\"\"√(Σ xᵢ²)를 부모가 xᵢ 모두인 노드 하나로 / √(Σ xᵢ²) as one node whose parents are every xᵢ.\"\"\"
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(math.sqrt(sum(x.data**2 for x in xs)), xs, "norm")

    def local_backward():
        for x in xs:  # the chain rule through √u: (1 / (2√u)) · 2xᵢ
            x.grad += x.data / out.data * out.grad

    out.local_backward = local_backward
    return out



def _array_type():
    for base in object.__subclasses__():
        if base.__name__.endswith("TensorBase"):
            for kind in base.__subclasses__():
                if kind.__name__ == "Tensor":
                    return kind


def logsumexp(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    row = _array_type()([0.0]).double().new_tensor([x.data for x in xs])  # float64 throughout
    out = Value(row.logsumexp(0).item(), xs, "logsumexp")
    shares = row.softmax(0).tolist()

    def local_backward():
        for x, share in zip(xs, shares):
            x.grad += share * out.grad

    out.local_backward = local_backward
    return out
""",
    ),
]


ENGINE_RULES = [  # unit 5: local rules that let the student's own engine backpropagate through copies
    # exercises 5 and 8's dot, norm and logsumexp are built on that engine: its rules are read with theirs
    (
        ("unit05", "new_operations", "test_new_operations test_dot test_norm_logsumexp"),
        """
def exp(self):
    out = Value(math.exp(self.data), (self,), "exp")

    def local_backward():
        self.grad += out.data * out.grad

    out.local_backward = local_backward
    return out


def log(self):
    out = Value(math.log(self.data), (self,), "log")

    def local_backward():
        self.grad += out.grad / self.data

    out.local_backward = local_backward
    return out


def _through(parents, build, op):
    \"\"\"One node whose rule backpropagates, with the engine's backward(), through build() on copies.\"\"\"
    out = Value(build(*(Value(p.data) for p in parents)).data, parents, op)

    def local_backward():
        copies = [Value(p.data) for p in parents]
        build(*copies).backward()
        for parent, copy in zip(parents, copies):
            parent.grad += copy.grad * out.grad

    out.local_backward = local_backward
    return out


lecture_power = Value.__pow__


def power(self, other):
    if not isinstance(other, Value):
        return lecture_power(self, other)
    return _through((self, other), lambda a, b: (b * a.log()).exp(), "**")


def rpower(self, c):
    return Value(c) ** self


def divide(self, other):
    other = other if isinstance(other, Value) else Value(other)
    return _through((self, other), lambda a, b: a * lecture_power(b, -1), "/")


def rdivide(self, c):
    return Value(c) / self


Value.exp, Value.log = exp, log
Value.__pow__, Value.__rpow__ = power, rpower
Value.__truediv__, Value.__rtruediv__ = divide, rdivide
""",
    ),
    (  # the rules of nodes made when the node is made, run by hand under another name: a property
        ("unit05", "new_operations", "test_new_operations test_dot test_norm_logsumexp"),
        """
def exp(self):
    out = Value(math.exp(self.data), (self,), "exp")

    def local_backward():
        self.grad += out.data * out.grad

    out.local_backward = local_backward
    return out


def log(self):
    out = Value(math.log(self.data), (self,), "log")

    def local_backward():
        self.grad += out.grad / self.data

    out.local_backward = local_backward
    return out


Value.exp, Value.log = exp, log
Value.rule = property(lambda self: self.local_backward)  # a node's rule, under another name
lecture_power = Value.__pow__


def _by_rules(parents, made, op):
    \"\"\"One node whose rule runs the rules of the nodes made for its value, the last one first.\"\"\"
    out = Value(made[-1].data, parents, op)

    def local_backward():
        for node in made:
            node.grad = 0.0
        made[-1].grad = out.grad
        for node in reversed(made):
            node.rule()

    out.local_backward = local_backward
    return out


def power(self, other):
    if not isinstance(other, Value):
        return lecture_power(self, other)
    logarithm = self.log()
    product = other * logarithm
    return _by_rules((self, other), [logarithm, product, product.exp()], "**")


def rpower(self, c):
    return Value(c) ** self


def divide(self, other):
    other = other if isinstance(other, Value) else Value(other)
    inverse = lecture_power(other, -1)
    return _by_rules((self, other), [inverse, self * inverse], "/")


def rdivide(self, c):
    return Value(c) / self


Value.__pow__, Value.__rpow__ = power, rpower
Value.__truediv__, Value.__rtruediv__ = divide, rdivide
""",
    ),
    (  # exercise 5's dot: a sum of products backpropagated by the engine on copies
        ("unit05", "dot", "test_dot"),
        """
def dot(ws, xs):
    ws = [w if isinstance(w, Value) else Value(w) for w in ws]
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(sum(w.data * x.data for w, x in zip(ws, xs)), (*ws, *xs), "dot")

    def local_backward():
        copies = [Value(node.data) for node in (*ws, *xs)]
        n = len(ws)
        sum((w * x for w, x in zip(copies[:n], copies[n:])), Value(0.0)).backward()
        for node, copy in zip((*ws, *xs), copies):
            node.grad += copy.grad * out.grad

    out.local_backward = local_backward
    return out
""",
    ),
    (
        ("unit05", "norm_logsumexp", "test_norm_logsumexp"),
        """
def _through(xs, build, op):
    \"\"\"One node whose rule backpropagates, with the engine's backward(), through build() on copies.\"\"\"
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(build([Value(x.data) for x in xs]).data, xs, op)

    def local_backward():
        copies = [Value(x.data) for x in xs]
        build(copies).backward()
        for x, copy in zip(xs, copies):
            x.grad += copy.grad * out.grad

    out.local_backward = local_backward
    return out


def norm(xs):
    return _through(xs, lambda c: dot(c, c) ** 0.5, "norm")


def logsumexp(xs):
    def shifted(c):
        top = max(x.data for x in c)
        return sum((x - top).exp() for x in c).log() + top

    return _through(xs, shifted, "logsumexp")
""",
    ),
    (  # exercise 4's rules kept under another name by a __setattr__, run inside a rule on copies: the
        # __setattr__ serves every later rule too, so exercises 5 and 8 lose theirs
        ("unit05", "new_operations", "test_new_operations test_dot test_norm_logsumexp"),
        """
def exp(self):
    \"\"\"e^self를 노드 하나로 / e^self as one node.\"\"\"
    out = Value(math.exp(self.data), (self,), "exp")

    def local_backward():
        self.grad += out.data * out.grad  # d(e^a)/da = e^a, the output itself

    out.local_backward = local_backward
    return out


def log(self):
    \"\"\"ln(self)를 노드 하나로 / ln(self) as one node.\"\"\"
    out = Value(math.log(self.data), (self,), "log")

    def local_backward():
        self.grad += (1 / self.data) * out.grad

    out.local_backward = local_backward
    return out



def _keep_rule(self, name, value):
    object.__setattr__(self, name, value)
    if name == "local_backward":
        object.__setattr__(self, "step_", value)


Value.__setattr__ = _keep_rule


def _order(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
    return order


def _engine_shares(parents, out, build):
    copies = [Value(p.data) for p in parents]
    inner = build(*copies)
    inner.grad = 1.0
    for node in reversed(_order(inner)):
        node.step_()
    for p, c in zip(parents, copies):
        p.grad += c.grad * out.grad


def power(self, other):
    if not isinstance(other, Value):
        k = other
        out = Value(self.data**k, (self,), f"**{k}")

        def local_backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out.local_backward = local_backward
        return out
    out = Value(self.data**other.data, (self, other), "**")
    out.local_backward = lambda: _engine_shares((self, other), out, lambda a, b: (b * a.log()).exp())
    return out


def rpower(self, c):
    return Value(c) ** self


def divide(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data / other.data, (self, other), "/")
    out.local_backward = lambda: _engine_shares((self, other), out, lambda a, b: a * b ** -1)
    return out


def rdivide(self, c):
    return Value(c) / self


Value.exp, Value.log = exp, log
Value.__pow__, Value.__rpow__ = power, rpower
Value.__truediv__, Value.__rtruediv__ = divide, rdivide
""",
    ),
    (  # exercise 8's: the same __setattr__, norm and logsumexp through the engine on copies
        ("unit05", "norm_logsumexp", "test_norm_logsumexp"),
        """
def _keep_rule(self, name, value):
    object.__setattr__(self, name, value)
    if name == "local_backward":
        object.__setattr__(self, "step_", value)


Value.__setattr__ = _keep_rule


def _order(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
    return order


def _through_engine(xs, out, build):
    copies = [Value(x.data) for x in xs]
    inner = build(copies)
    inner.grad = 1.0
    for node in reversed(_order(inner)):
        node.step_()
    for x, c in zip(xs, copies):
        x.grad += c.grad * out.grad


def norm(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(sum(x.data ** 2 for x in xs) ** 0.5, xs, "norm")
    squares = lambda cs: sum((c * c for c in cs), Value(0.0)) ** 0.5
    out.local_backward = lambda: _through_engine(xs, out, squares)
    return out


def logsumexp(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    top = max(x.data for x in xs)
    out = Value(top + math.log(sum(math.exp(x.data - top) for x in xs)), xs, "logsumexp")
    shifted = lambda cs: sum(((c - top).exp() for c in cs), Value(0.0)).log() + top
    out.local_backward = lambda: _through_engine(xs, out, shifted)
    return out
""",
    ),
]


# answers calling torch's own backward kernels (aten, or torch's own namespace under any name), right by the
# numbers: autograd too. (exercise, answer, tests), code: an exercise may come more than once
KERNELS = [
    (
        ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"),
        """
import torch
from torch.ops import aten
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, aten._log_softmax_backward_data(dA, A, 1, Z.dtype)
""",
    ),
    (
        ("unit06", "embedding_backward", "test_embedding_backward"),
        """
import torch
def embedding_backward(idx, dOut, V, padding_idx=None):
    padding = -1 if padding_idx is None else padding_idx
    return torch.ops.aten.embedding_dense_backward(dOut, idx, V, padding, False)
""",
    ),
    (
        ("unit06", "normalize_backward", "test_normalize_backward"),
        """
import torch
kernels = torch.ops.aten
def normalize_backward(X, gamma, dY, dim, eps):
    if dim == 0:
        mean, invstd = X.mean(0), 1 / torch.sqrt(X.var(0, correction=0) + eps)
        mask = [True] * 3
        return kernels.native_batch_norm_backward(dY, X, gamma, None, None, mean, invstd, True, eps, mask)
    mean = X.mean(1, keepdim=True)
    rstd = 1 / torch.sqrt(X.var(1, keepdim=True, correction=0) + eps)
    bias = torch.zeros_like(gamma)
    return kernels.native_layer_norm_backward(dY, X, [X.shape[1]], mean, rstd, gamma, bias, [True] * 3)
""",
    ),
    (
        ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"),
        """
import torch
from torch import _log_softmax_backward_data
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, _log_softmax_backward_data(dA, A, 1, Z.dtype)
""",
    ),
    (
        ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"),
        """
import torch as T
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - T.log(T.exp(Z - m).sum(dim=1, keepdim=True))
    return A, T._log_softmax_backward_data(dA, A, 1, Z.dtype)
""",
    ),
    (
        ("unit06", "log_softmax_forward_backward", "test_log_softmax_forward_backward"),
        """
import torch
tt = torch
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, tt._log_softmax_backward_data(dA, A, 1, Z.dtype)
""",
    ),
]

TESTED_BY = {  # unit 6's answers and the test cells that grade them
    "log_softmax_forward_backward": "test_log_softmax_forward_backward",
    "embedding_backward": "test_embedding_backward",
    "tied_autoencoder_grad": "test_tied_autoencoder_grad",
    "normalize_backward": "test_normalize_backward",
    "SquaredDistance": "test_squared_distance_function",
}
# autograd through torch's private functorch (torch._functorch): the transforms of torch.func by other names
KERNELS += [(("unit06", name, TESTED_BY[name]), code) for name, _, code in FUNCTORCH.values()]


ELSEWHERE = {  # (assignment, answer, tests): (a cell of the student's put before the answer's, the answer)
    # torch under another name, bound in a cell of its own: the answer's cell alone never shows torch
    ("unit03", "grad_after", "test_grad_after"): (
        "T = torch\n",
        """
def grad_after(steps, w0, x, y, lr, weight_decay):
    w = T.tensor(w0, dtype=T.float64, requires_grad=True)
    optimizer = T.optim.SGD([w], lr=lr, weight_decay=weight_decay)
    for step in steps:
        if step == "backward":
            ((x * w - y) ** 2).backward()
        elif step == "step":
            optimizer.step()
        else:
            optimizer.zero_grad(set_to_none=step == "none")
    return w.item(), None if w.grad is None else w.grad.item()
""",
    ),
    # exercise 6 stores every rule under another name too, through a property; exercise 8 runs those
    ("unit05", "norm_logsumexp", "test_norm_logsumexp"): (
        """
def _leaf_rule():
    \"\"\"A leaf passes nothing on.\"\"\"


def _get_rule(self):
    return self.backward_rule


def _set_rule(self, rule):
    self.backward_rule = rule if self.parents else _leaf_rule


Value.local_backward = property(_get_rule, _set_rule)
""",
        """
def _order(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
    return order


def _through_engine(xs, out, build):
    \"\"\"the local gradients of build(copies) by the engine, each rule called under its other name\"\"\"
    copies = [Value(x.data) for x in xs]
    inner = build(copies)
    inner.grad = 1.0
    for node in reversed(_order(inner)):
        node.backward_rule()
    for x, c in zip(xs, copies):
        x.grad += c.grad * out.grad


def norm(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(sum(x.data ** 2 for x in xs) ** 0.5, xs, "norm")
    squares = lambda cs: sum((c * c for c in cs), Value(0.0)) ** 0.5
    out.local_backward = lambda: _through_engine(xs, out, squares)
    return out


def logsumexp(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    top = max(x.data for x in xs)
    out = Value(top + math.log(sum(math.exp(x.data - top) for x in xs)), xs, "logsumexp")
    shifted = lambda cs: sum(((c - top).exp() for c in cs), Value(0.0)).log() + top
    out.local_backward = lambda: _through_engine(xs, out, shifted)
    return out
""",
    ),
}


OBSERVED = [  # shortcuts of a rule that shows in what the answer returns: they fail by the numbers
    (
        ("unit03", "microbatch_gradient", "test_microbatch_gradient"),
        """
def microbatch_gradient(w, X, y, sizes):
    w = w.detach().clone().requires_grad_(True)
    ((X @ w - y) ** 2).mean().backward()  # the whole batch at once
    return w.grad.detach().expand(len(sizes), -1).clone()
""",
    ),
    (  # unit 6's gradient check by the name of the backward it is handed (the tests' right ones are named
        # *_backward, the wrong ones *_backward_<what is wrong>): every one is handed under one name
        ("unit06", "check_backward", "test_check_backward"),
        """
def check_backward(forward, backward, X):
    return backward.__name__.endswith("_backward")
""",
    ),
    (  # the same, read from its repr: <function mix_backward at 0x…>
        ("unit06", "check_backward", "test_check_backward"),
        """
def check_backward(forward, backward, X):
    return repr(backward).split()[1].endswith("_backward")
""",
    ),
    (  # unit 5's no_grad with no state: what the function returns is made a leaf afterwards
        ("unit05", "no_grad", "test_no_grad"),
        """
def no_grad(function):
    def without_recording(*args):
        result = function(*args)
        for node in result if isinstance(result, tuple) else (result,):
            if isinstance(node, Value):
                node.parents = ()
                node.local_backward = lambda: None
        return result

    return without_recording
""",
    ),
    (  # the same, every node made for what the function returns stripped, its inner nodes too
        ("unit05", "no_grad", "test_no_grad"),
        """
def reached(nodes):
    found, stack = {}, [node for node in nodes if isinstance(node, Value)]
    while stack:
        node = stack.pop()
        if id(node) not in found:
            found[id(node)] = node
            stack.extend(node.parents)
    return found


def no_grad(function):
    def without_recording(*args):
        before = reached(args)
        result = function(*args)
        for key, node in reached(result if isinstance(result, tuple) else (result,)).items():
            if key not in before:
                node.parents = ()
                node.local_backward = lambda: None
        return result

    return without_recording
""",
    ),
    (  # central differences with a step no reader folds (float.fromhex): off by far more than 1e-12
        ("unit05", "norm_logsumexp", "test_norm_logsumexp"),
        """
H = float.fromhex("0x1p-16")  # how far each input is moved


def _value_norm(vals):
    return sum(v * v for v in vals) ** 0.5


def _value_lse(vals):
    top = max(vals)
    return top + math.log(sum(math.exp(v - top) for v in vals))


def _slopes(f, vals):
    slopes = []
    for i in range(len(vals)):
        up = list(vals)
        down = list(vals)
        up[i] = up[i] + H
        down[i] = down[i] - H
        rise = f(up) - f(down)
        slopes.append(rise * (0.5 / H))
    return slopes


def norm(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(_value_norm([x.data for x in xs]), xs, "norm")

    def local_backward():
        for x, s in zip(xs, _slopes(_value_norm, [x.data for x in xs])):
            x.grad += s * out.grad

    out.local_backward = local_backward
    return out


def logsumexp(xs):
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]
    out = Value(_value_lse([x.data for x in xs]), xs, "logsumexp")

    def local_backward():
        for x, s in zip(xs, _slopes(_value_lse, [x.data for x in xs])):
            x.grad += s * out.grad

    out.local_backward = local_backward
    return out
""",
    ),
]


PARTLY_OBSERVED = [  # shortcuts that some part of the visible test sees by the numbers in the kernel
    (  # a recursive sort with a raised limit: the test lowers the limit around the chain of 5000
        ("unit05", "topological_order", "test_topological_order"),
        """
import sys
sys.setrecursionlimit(100000)
def topological_order(root):
    order, seen = [], set()
    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.parents:
            visit(parent)
        order.append(node)
    visit(root)
    return order
""",
    ),
    (  # the limit raised through a bare name, the recursion through a dict
        ("unit05", "topological_order", "test_topological_order"),
        """
from sys import setrecursionlimit

setrecursionlimit(20000)
_visitors = {}


def topological_order(root):
    \"\"\"root에서 닿는 모든 노드를, 부모가 자식보다 먼저 오도록 한 번씩 담은 리스트.\"\"\"
    order, visited = [], set()

    def visit(node):
        if id(node) not in visited:
            visited.add(id(node))
            for parent in node.parents:
                _visitors["visit"](parent)
            order.append(node)

    _visitors["visit"] = visit
    visit(root)
    return order
""",
    ),
]


def applicable(assignment: str) -> dict[str, set[str]]:
    """For each kind of finding, the test cells whose rules refuse it, and the answers they judge."""
    nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    kinds: dict[str, set[str]] = {}
    for cell in nb.cells:
        if is_test(cell):
            for _, rules in rule_calls(cell.source):
                for rule in rules:
                    for kind in RULES[rule]:
                        kinds.setdefault(kind, set()).add(nbgrader_meta(cell)["grade_id"])
    return kinds


def answer_cells(assignment: str, kind: str) -> set[str]:
    """The solution cells that define an answer whose rules refuse ``kind``."""
    nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    wanted = set()
    for cell in nb.cells:
        if is_test(cell):
            for answer, rules in rule_calls(cell.source):
                if any(kind in RULES[rule] for rule in rules):
                    wanted.add(answer)
    cells = set()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        defined = re.findall(r"^(?:def|class) (\w+)", cell.source, re.M)
        if meta.get("solution") and cell.cell_type == "code" and wanted & set(defined):
            cells.add(meta["grade_id"])
    return cells


def planted(assignment: str, kind: str) -> dict[str, str]:
    """The solution cells changed to carry ``kind``'s construct: the reference, plus a helper using it."""
    solutions = {
        nbgrader_meta(c)["grade_id"]: c.source
        for c in nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4).cells
        if nbgrader_meta(c).get("solution")
    }
    helper = f"\n\n\ndef _shortcut():\n    {PLANTED[kind]}\n"
    return {gid: solutions[gid] + helper for gid in answer_cells(assignment, kind)}


def students(assignment: str) -> dict[str, tuple[nbformat.NotebookNode, set[str]]]:
    """Each shortcut student's notebook and the test cells it must score 0 on."""
    found = {"reference": (answered(assignment), set())}
    for kind, tests in sorted(applicable(assignment).items()):
        found[f"planted-{kind}"] = (answered(assignment, change=planted(assignment, kind)), tests)
    for number, ((unit, answer, test), code) in enumerate(
        [*REAL.items(), *OBSERVED, *PARTLY_OBSERVED, *ALSO_REAL]
    ):
        if unit == assignment:
            name = f"real-{answer}" if f"real-{answer}" not in found else f"real-{answer}-{number}"
            found[name] = (answered(assignment, change={answer: code}), set(test.split()))
    for number, ((unit, answer, test), code) in enumerate(ENGINE_RULES):
        if unit == assignment:
            name = f"engine-{answer}" if f"engine-{answer}" not in found else f"engine-{answer}-{number}"
            found[name] = (answered(assignment, change={answer: code}), set(test.split()))
    for number, ((unit, answer, test), code) in enumerate(KERNELS):
        if unit == assignment:
            name = f"kernel-{answer}" if f"kernel-{answer}" not in found else f"kernel-{answer}-{number}"
            found[name] = (answered(assignment, change={answer: code}), set(test.split()))
    for (unit, answer, test), (cell, code) in ELSEWHERE.items():
        if unit == assignment:
            nb = answered(assignment, change={answer: code}, before={answer: cell})
            found[f"elsewhere-{answer}"] = (nb, set(test.split()))
    return found


def test_every_kind_of_finding_has_a_planted_construct():
    assert set(PLANTED) == set(MESSAGES) == {kind for rules in RULES.values() for kind in rules}


@pytest.fixture(scope="module", params=COURSE.assignments())
def shortcuts(request, tmp_path_factory, class_cache):
    """One class per assignment: the reference solution and every shortcut student, graded by course grade."""
    assignment = request.param
    work = new_class(tmp_path_factory.mktemp(f"shortcuts-{assignment}"), [assignment], class_cache)
    expected = {}
    for student, (nb, zero) in students(assignment).items():
        submit(work, student, assignment, {"exercises.ipynb": nb})
        expected[student] = zero
    course("grade", assignment, *LIMITS, cwd=work, check=True)
    return assignment, work, expected


def test_a_shortcut_scores_zero_on_every_exercise_it_applies_to(shortcuts):
    assignment, work, expected = shortcuts
    problems = []
    for student, zero in expected.items():
        cells = cell_scores(work, assignment, student)
        for grade_id, (score, maximum) in cells.items():
            if grade_id in zero and score != 0:
                problems.append(f"{student}: {grade_id} scores {score}/{maximum}, not 0")
            elif grade_id not in zero and score != maximum:
                problems.append(f"{student}: {grade_id} loses points ({score}/{maximum}) it should keep")
    assert not problems, "\n".join(problems)


def test_every_graded_exercise_is_tried(shortcuts):
    """Each graded code cell is zeroed by at least one shortcut (or states no rule, and why)."""
    from tests.test_rules import NO_RULE

    assignment, _, expected = shortcuts
    nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    graded = {nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test(c)}
    tried = set().union(*expected.values())
    untried = graded - tried - {gid for unit, gid in NO_RULE if unit == assignment}
    assert not untried, untried


# ----------------------------------------------------------------------- in the student's kernel


def kernel_namespace(assignment: str, change: dict[str, str]) -> dict:
    """The notebook's setup and answers run here as a kernel runs them: each cell's source kept where
    ``inspect`` finds it, as IPython keeps it, so the kernel's copy of the rules can read it."""
    namespace = {"__name__": "__main__"}
    nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    with contextlib.redirect_stdout(io.StringIO()):
        for number, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_test(cell):
                continue
            gid = nbgrader_meta(cell).get("grade_id")
            code = change.get(gid, cell.source)
            filename = f"<cell {assignment} {number}>"
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            exec(compile(code, filename, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_the_visible_test_warns_at_once(assignment):
    """Each planted shortcut fails the visible part of each test cell it applies to, in the kernel, with
    the message of its kind; the reference passes them all."""
    nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
    tests = {nbgrader_meta(c)["grade_id"]: split_hidden(c.source)[0] for c in nb.cells if is_test(c)}
    problems = []
    for kind, zero in applicable(assignment).items():
        namespace = kernel_namespace(assignment, planted(assignment, kind))
        for grade_id in sorted(zero):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(tests[grade_id], f"<test {grade_id}>", "exec"), dict(namespace))
            except CheckFailed as failure:
                if MESSAGES[kind] not in str(failure):
                    problems.append(f"{kind}: {grade_id} fails without naming it: {str(failure)[:300]}")
                continue
            problems.append(f"{kind}: {grade_id}'s visible test passes in the kernel")
    assert not problems, "\n".join(problems)


def test_the_real_shortcuts_are_right_by_the_numbers():
    """The real shortcuts are not wrong answers: with the rules switched off they pass their visible test,
    so only the rule stands between them and the points."""
    problems = []
    lazy = [*REAL.items(), *ALSO_REAL, *KERNELS]  # ENGINE_RULES: the nodes they make are counted
    for (assignment, answer, test), code in lazy:
        namespace = kernel_namespace(assignment, {answer: code})
        namespace.update({name: lambda *a, **k: None for name in ("assert_rules", *SHORT_FORMS)})
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == test.split()[0]]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<test {test}>", "exec"), namespace)
        except CheckFailed as failure:
            problems.append(f"{assignment} {answer}: fails by the numbers: {str(failure)[:200]}")
    assert not problems, "\n".join(problems)


def test_a_kernel_shortcut_is_refused_at_once_in_the_kernel():
    """torch's own backward kernels (aten) are automatic differentiation: the visible test says so."""
    for (assignment, answer, test), code in KERNELS:
        namespace = kernel_namespace(assignment, {answer: code})
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        (source,) = [c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == test]
        quiet = contextlib.redirect_stdout(io.StringIO())
        with pytest.raises(CheckFailed, match=MESSAGES["autograd"]), quiet:
            exec(compile(split_hidden(source)[0], f"<test {test}>", "exec"), dict(namespace))


def test_torch_bound_in_another_cell_is_found_in_the_kernel_and_is_right_by_the_numbers():
    """The kernel reads the answer's cell only: torch under another name is found from the globals' values.
    With the rules switched off the answer passes, so only the rule takes its points."""
    torch_elsewhere = {key: value for key, value in ELSEWHERE.items() if "torch" in value[0]}
    assert torch_elsewhere, "no answer with torch bound in a cell of its own"
    for (assignment, answer, test), (cell, code) in torch_elsewhere.items():
        namespace = kernel_namespace(assignment, {answer: code})
        exec(cell, namespace)  # the student's own cell, which the kernel's copy of the rules never reads
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        (source,) = [c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == test]
        with pytest.raises(CheckFailed, match=MESSAGES["torch"]), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(split_hidden(source)[0], f"<test {test}>", "exec"), dict(namespace))
        namespace.update({name: lambda *a, **k: None for name in ("assert_rules", *SHORT_FORMS)})
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<test {test}>", "exec"), namespace)


def test_a_rule_made_observable_fails_by_the_numbers():
    """One backward() for the whole batch cannot give the running .grad of unit 3's micro-batches; a
    no_grad with no state, which makes leaves of what the function returns only, misses unit 5's nodes
    kept elsewhere; unit 6's check answering by the name of the backward it is handed is handed every one
    under the same name."""
    for (assignment, answer, test), code in OBSERVED:
        namespace = kernel_namespace(assignment, {answer: code})
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == test]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(split_hidden(cell.source)[0], f"<test {test}>", "exec"), namespace)
        except CheckFailed:
            continue
        # a cell with partial credit fails its parts, not the cell: every part of it must fail
        parts = [value for value in namespace.values() if isinstance(value, Parts)]
        assert parts, f"{assignment} {answer}: the visible test passes"
        for part in parts:
            assert set(part.failed) == set(part.names), (
                f"{assignment} {answer}: {part.names} pass but {part.failed}"
            )


def test_an_engine_rule_or_a_raised_limit_fails_by_the_numbers():
    """Unit 5's tests count the nodes a local rule makes (Value.made), and lower the recursion limit around
    the chain of 5000: a rule run by the engine on copies, and a sort that recurses, fail a part of the
    visible test in the kernel, with the rules switched off."""
    for (assignment, answer, test), code in [*ENGINE_RULES, *PARTLY_OBSERVED]:
        namespace = kernel_namespace(assignment, {answer: code})
        namespace.update({name: lambda *a, **k: None for name in ("assert_rules", *SHORT_FORMS)})
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == test.split()[0]]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(split_hidden(cell.source)[0], f"<test {test}>", "exec"), namespace)
        except CheckFailed:
            continue
        parts = [value for value in namespace.values() if isinstance(value, Parts)]
        assert any(part.failed for part in parts), f"{assignment} {answer}: the visible test passes"


def test_setup_cells_hand_answers_nothing_from_the_package():
    """No setup cell puts a reference implementation beside the answers: what the package gives the tests,
    the test cells import themselves (unit 5's reference engine and graphs among them)."""
    allowed = {"Parts", "Predictions", "CheckFailed", "render"}  # checkers: they hold no answer
    allowed |= {n for n in dir(__import__("autograder")) if n.startswith("assert_") or n == "returned"}
    for assignment in COURSE.assignments():
        nb = nbformat.read(COURSE.source / assignment / "exercises.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and is_instructor(cell) and not is_test(cell):
                names = {
                    alias.asname or alias.name
                    for node in ast.walk(ast.parse(cell.source))
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder")
                    for alias in node.names
                }
                assert names <= allowed, (assignment, names - allowed)
