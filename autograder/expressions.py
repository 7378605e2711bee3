"""Random expression graphs for unit 5's engine: build one in a student's ``Value`` class and in torch.

A graph is a :class:`Spec`: leaf values, then steps, each an operation on earlier nodes (by index) and,
for some, a number. :func:`random_expression` draws one from a seeded ``random.Random``: nodes shared by
later steps, a node used twice by one operation (``a * a``, ``a + a``), optionally a long chain, and a root
that sums every node nothing else uses, so every node reaches the root. Values stay in the operations'
good domains (``log`` of a number above ½, no division by a number near 0, ``relu`` away from its kink).

:func:`build` applies the steps with Python's operators and the engine's methods, so the same spec runs in
a student's class (through the grader's handles, only plain numbers cross) and in torch (float64):
:func:`torch_reference` gives every node's value and gradient. :func:`mistaken_gradients` gives what an
engine with one of the catalogued mistakes computes (``=`` for ``+=``, the upstream gradient left out,
the wrong operand in the product rule, the nodes visited in the wrong order), for the checker to name it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

UNARY = ("exp", "log", "tanh", "relu", "neg", "sigmoid")
BINARY = ("+", "-", "*", "/")
WITH_NUMBER = ("+c", "c+", "*c", "c*", "-c", "c-", "/c", "c/", "**")
POWERS = ("pow", "c**")  # a ** b with b a node, and number ** a: the exponent a variable
CORE = ("tanh", "relu", "neg") + BINARY + WITH_NUMBER  # what the lecture's engine builds, exp and log aside
EXPONENTS = (2, 3, -1, 0.5, 1.5)
LIMIT = 20.0  # every value stays below this in size


@dataclass
class Spec:
    leaves: list[float]
    steps: list[tuple] = field(default_factory=list)  # (operation, operand index, operand index or number)

    @property
    def size(self) -> int:
        return len(self.leaves) + len(self.steps)

    def edges(self) -> set[tuple[int, int]]:
        """(parent, child) index pairs."""
        found = set()
        for k, (op, a, b) in enumerate(self.steps):
            child = len(self.leaves) + k
            found.add((a, child))
            if _two_nodes(op):
                found.add((b, child))
        return found


def _two_nodes(op: str) -> bool:
    """Whether ``op``'s second operand is a node (by index), not a number."""
    return op in BINARY or op == "pow"


def _forward(op: str, a: float, b: float | None) -> float:
    number = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "+c": lambda: a + b,
        "c+": lambda: b + a,
        "*c": lambda: a * b,
        "c*": lambda: b * a,
        "-c": lambda: a - b,
        "c-": lambda: b - a,
        "/c": lambda: a / b,
        "c/": lambda: b / a,
        "**": lambda: a**b,
        "pow": lambda: a**b,
        "c**": lambda: b**a,
        "exp": lambda: math.exp(a),
        "log": lambda: math.log(a),
        "tanh": lambda: math.tanh(a),
        "relu": lambda: max(a, 0.0),
        "neg": lambda: -a,
        "sigmoid": lambda: 1 / (1 + math.exp(-a)),
    }
    return number[op]()


def _allowed(op: str, a: float, b: float | None) -> bool:
    """Whether ``op`` on these values stays in its good domain, away from kinks and overflow."""
    if op == "log":
        return a > 0.5
    if op == "relu":
        return abs(a) > 0.2
    if op == "exp":
        return a < 2.5
    if op in ("/", "c/"):
        return abs(b if op == "/" else a) > 0.5
    if op == "**":
        return (b >= 1 or abs(a) > 0.5) and (float(b).is_integer() or a > 0.5)
    if op == "pow":
        return a > 0.5 and abs(b) < 2.5
    if op == "c**":
        return b > 0.5 and abs(a) < 3
    return True


def random_expression(
    rng: random.Random,
    leaves: int = 3,
    operations: int = 12,
    chain: int = 0,
    ops: tuple[str, ...] = UNARY[:-1] + BINARY + WITH_NUMBER,
) -> Spec:
    """A random graph: ``leaves`` inputs, ``operations`` steps, a chain of ``chain`` steps, then the root."""
    spec = Spec([round(rng.uniform(-2, 2), 3) or 0.5 for _ in range(leaves)])
    values = list(spec.leaves)
    used = [0] * leaves

    def add(op, a, b):
        value = _forward(op, values[a], values[b] if _two_nodes(op) else b)
        spec.steps.append((op, a, b))
        values.append(value)
        used.append(0)
        used[a] += 1
        if _two_nodes(op):
            used[b] += 1

    while len(spec.steps) < operations:
        op = rng.choice(ops)
        recent = max(0, len(values) - 4)
        a = rng.randrange(recent, len(values)) if rng.random() < 0.6 else rng.randrange(len(values))
        if _two_nodes(op):
            b = a if rng.random() < 0.2 else rng.randrange(len(values))  # sometimes one node twice: a * a
            second = values[b]
        elif op == "**":
            b = second = rng.choice(EXPONENTS)
        elif op == "c**":
            b = second = round(rng.uniform(0.6, 3), 3)
        elif op in WITH_NUMBER:
            b = second = round(rng.choice([-1, 1]) * rng.uniform(0.6, 2), 3)
        else:
            b = second = None
        if not _allowed(op, values[a], second):
            continue
        value = _forward(op, values[a], second)
        if abs(value) > LIMIT or (abs(value) < 1e-3 and op != "relu"):
            continue
        add(op, a, b)
    for _ in range(chain):  # a long chain: gradients ±1 all along it, so a lost step shows
        last = len(values) - 1
        op, number = rng.choice([("+c", round(rng.uniform(-0.05, 0.05), 3) or 0.01), ("*c", -1.0)])
        if abs(values[last] + number) > LIMIT:
            number = -abs(number) if values[last] > 0 else abs(number)
        add(op, last, number)
    sinks = [i for i in range(len(values)) if used[i] == 0]
    root = sinks[0]
    for sink in sinks[1:]:  # the root sums every node nothing uses, so every node reaches it
        add("+", root, sink)
        root = len(values) - 1
    if root == 0 and not spec.steps:
        add("*c", 0, 1.5)
    return spec


def apply(op: str, a: object, b: object) -> object:
    """One step with Python's operators and the engine's methods: the same code for any engine."""
    if op in ("exp", "log", "tanh", "relu", "sigmoid"):
        return getattr(a, op)()
    binary = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "+c": lambda: a + b,
        "c+": lambda: b + a,
        "*c": lambda: a * b,
        "c*": lambda: b * a,
        "-c": lambda: a - b,
        "c-": lambda: b - a,
        "/c": lambda: a / b,
        "c/": lambda: b / a,
        "**": lambda: a**b,
        "pow": lambda: a**b,
        "c**": lambda: b**a,
        "neg": lambda: -a,
    }
    return binary[op]()


def build(spec: Spec, leaf: Callable[[float], object]) -> list:
    """Every node of ``spec``, leaves first, made with ``leaf(number)`` and :func:`apply`."""
    nodes = [leaf(value) for value in spec.leaves]
    for op, a, b in spec.steps:
        nodes.append(apply(op, nodes[a], nodes[b] if _two_nodes(op) else b))
    return nodes


def torch_reference(spec: Spec) -> tuple[list[float], list[float]]:
    """Every node's value and its gradient ∂root/∂node, by torch.autograd in float64 (root: the last node)."""

    def leaf(value):
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)

    with torch.enable_grad():
        nodes = build(spec, leaf)
        for node in nodes:
            if not node.is_leaf:
                node.retain_grad()
        nodes[-1].backward()
    values = [node.item() for node in nodes]
    return values, [0.0 if node.grad is None else node.grad.item() for node in nodes]


# ----------------------------------------------------------------------- engines with one mistake

MISTAKES = {  # mistake id (mistakes.toml) → what the engine does wrong in one backward()
    "fork_branch_missing": "assign",  # parent.grad = ... instead of +=
    "out_grad_missing": "no_chain",  # parent.grad += local, without out.grad
    "product_wrong_operand": "wrong_operand",  # a.grad += a.data * out.grad in a product
    "backward_wrong_order": "forward_order",  # local backward rules run leaves first
}
REPEAT_MISTAKES = {  # mistake id → what the engine does wrong when backward() runs more than once
    "inner_grad_stale": "stale",  # an inner node keeps the gradient of the call before
    "leaf_grad_reset": "reset_all",  # backward() sets every gradient to 0, the leaves' too
    "engine_grad_not_zeroed": "zero_nothing",  # zero_grad() leaves the gradients as they are
}


class Mistaken:
    """A scalar engine built like the course's reference ``Value``, with one mistake switched on."""

    mode = "right"

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.op = op
        self.local_backward = lambda: None

    def _out(self, data, parents, rules):
        """A node made from ``parents`` whose backward adds local × upstream to each parent."""
        out = Mistaken(data, parents)
        mode = Mistaken.mode

        def local_backward():
            for parent, local in zip(parents, rules(), strict=True):
                delta = local if mode == "no_chain" else local * out.grad
                parent.grad = delta if mode == "assign" else parent.grad + delta

        out.local_backward = local_backward
        return out

    @staticmethod
    def _value(other):
        return other if isinstance(other, Mistaken) else Mistaken(other)

    def __add__(self, other):
        other = self._value(other)
        return self._out(self.data + other.data, (self, other), lambda: (1.0, 1.0))

    def __mul__(self, other):
        other = self._value(other)
        if Mistaken.mode == "wrong_operand":
            return self._out(self.data * other.data, (self, other), lambda: (self.data, other.data))
        return self._out(self.data * other.data, (self, other), lambda: (other.data, self.data))

    def __pow__(self, k):
        if isinstance(k, Mistaken):  # a variable exponent: a ** b
            value = self.data**k.data
            return self._out(
                value, (self, k), lambda: (k.data * self.data ** (k.data - 1), value * math.log(self.data))
            )
        return self._out(self.data**k, (self,), lambda: (k * self.data ** (k - 1),))

    def __rpow__(self, c):
        return Mistaken(c) ** self

    def exp(self):
        e = math.exp(self.data)
        return self._out(e, (self,), lambda: (e,))

    def log(self):
        return self._out(math.log(self.data), (self,), lambda: (1 / self.data,))

    def tanh(self):
        t = math.tanh(self.data)
        return self._out(t, (self,), lambda: (1 - t**2,))

    def relu(self):
        return self._out(max(self.data, 0.0), (self,), lambda: (1.0 if self.data > 0 else 0.0,))

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))
        return self._out(s, (self,), lambda: (s * (1 - s),))

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

    def backward(self):
        order, visited, stack = [], set(), [(self, False)]
        while stack:  # the reference solution's iterative depth-first order, parents in order
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in reversed(node.parents) if id(p) not in visited)
        for node in order:  # an inner node's gradient is this call's; a leaf's adds up over calls
            if Mistaken.mode == "reset_all" or (node.parents and Mistaken.mode != "stale"):
                node.grad = 0.0
        self.grad = 1.0
        for node in order if Mistaken.mode == "forward_order" else reversed(order):
            node.local_backward()

    def zero_grad(self):
        if Mistaken.mode == "zero_nothing":
            return
        for node in _reachable(self)[0]:
            node.grad = 0.0


def _with_mode(mode: str, work: Callable[[], list[float]]) -> list[float]:
    Mistaken.mode = mode
    try:
        return work()
    finally:
        Mistaken.mode = "right"


def mistaken_gradients(spec: Spec, mistakes=tuple(MISTAKES)) -> dict[str, list[float]]:
    """For each mistake id: every node's gradient after ``backward()`` in an engine with that mistake."""

    def run():
        nodes = build(spec, Mistaken)
        nodes[-1].backward()
        return [node.grad for node in nodes]

    return {key: _with_mode(MISTAKES[key], run) for key in mistakes}


def local_step(engine, op, inputs, number, before, upstream, twice=False) -> tuple[float, list[float]]:
    """One ``local_backward()`` of ``op`` in ``engine``: the output's value and the inputs' gradients after
    it, the inputs' gradients being ``before`` and the output's ``upstream``; ``twice``: ``a op a``."""
    nodes = [engine(x) for x in inputs]
    first, second = (nodes[0], nodes[0]) if twice else (nodes[0], nodes[-1])
    out = apply(op, first, second if _two_nodes(op) else number)
    for node, grad in zip(nodes, before, strict=True):
        node.grad = grad
    out.grad = upstream
    out.local_backward()
    return float(out.data), [float(node.grad) for node in nodes]


def mistaken_local(op, inputs, number, before, upstream, twice=False, mistakes=tuple(MISTAKES)):
    """For each mistake id: the inputs' gradients after one local backward step in the mistaken engine."""

    def run():
        return local_step(Mistaken, op, inputs, number, before, upstream, twice)[1]

    return {key: _with_mode(MISTAKES[key], run) for key in mistakes if key != "backward_wrong_order"}


def torch_local(op, inputs, number, before, upstream, twice=False) -> tuple[float, list[float]]:
    """The same step by torch: the output's value, and ``before`` + upstream × ∂out/∂input for each input."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    first, second = (leaves[0], leaves[0]) if twice else (leaves[0], leaves[-1])
    with torch.enable_grad():
        out = apply(op, first, second if _two_nodes(op) else number)
        grads = torch.autograd.grad(out, leaves, torch.tensor(upstream, dtype=torch.float64))
    return out.item(), [b + g.item() for b, g in zip(before, grads, strict=True)]


# ------------------------------------------------------------------- the graph's shape, and its orders


def _reachable(root) -> tuple[list, list[list[int]]]:
    """Every node reached from ``root`` (``root`` first), and for each the indices of its parents."""
    nodes, index, todo = [root], {id(root): 0}, [root]
    while todo:
        for parent in todo.pop().parents:
            if id(parent) not in index:
                index[id(parent)] = len(nodes)
                nodes.append(parent)
                todo.append(parent)
    return nodes, [[index[id(p)] for p in node.parents] for node in nodes]


def _kahn(parents: list[list[int]]) -> list[int]:
    """Kahn's algorithm on node indices (node 0 the root), as in the lecture: every node after its users."""
    uses = [0] * len(parents)
    for ps in parents:
        for p in ps:
            uses[p] += 1
    order, ready = [], [0]
    while ready:
        node = ready.pop()
        order.append(node)
        for p in parents[node]:
            uses[p] -= 1
            if uses[p] == 0:
                ready.append(p)
    return order


def graph_size(root) -> tuple[int, int]:
    """(nodes, depth) of the graph below ``root``: how many nodes, and the edges on its longest path."""
    nodes, parents = _reachable(root)
    depth = [0] * len(nodes)
    for node in _kahn(parents):  # every node before its parents
        for p in parents[node]:
            depth[p] = max(depth[p], depth[node] + 1)
    return len(nodes), max(depth)


# --------------------------------------------------------------- backward() called more than once


def calls_in(engine, spec: Spec, calls) -> list[float]:
    """Every node's gradient after ``calls`` in ``engine``: ("backward", i) or ("zero_grad", i) on node i."""
    nodes = build(spec, engine)
    for what, index in calls:
        (nodes[index].backward if what == "backward" else nodes[index].zero_grad)()
    return [float(node.grad) for node in nodes]


def torch_calls(spec: Spec, calls) -> list[float]:
    """The same calls by torch.autograd: a leaf's gradient adds up over the backward() calls since the
    last zero_grad(), an inner node holds its gradient from the last call (retain_grad, reset per call)."""

    def leaf(value):
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)

    with torch.enable_grad():
        nodes = build(spec, leaf)
        for node in nodes:
            if not node.is_leaf:
                node.retain_grad()
        for what, index in calls:
            if what == "backward":
                for node in nodes:
                    if not node.is_leaf:
                        node.grad = None
                nodes[index].backward(retain_graph=True)
            else:
                for node in nodes:
                    node.grad = None
    return [0.0 if node.grad is None else node.grad.item() for node in nodes]


def mistaken_calls(spec: Spec, calls, mistakes=tuple(REPEAT_MISTAKES)) -> dict[str, list[float]]:
    """For each mistake id of ``REPEAT_MISTAKES``: every node's gradient after ``calls`` in that engine."""

    def run():
        return calls_in(Mistaken, spec, calls)

    return {key: _with_mode(REPEAT_MISTAKES[key], run) for key in mistakes}
