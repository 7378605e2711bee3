"""Random expression graphs for unit 5's engine: build one in a student's ``Value`` class and in torch.

A graph is a :class:`Spec`: leaf values, then steps, each an operation on earlier nodes (by index) and,
for some, a number. :func:`random_expression` draws one from a seeded ``random.Random``: nodes shared by
later steps, a node used twice by one operation (``a * a``, ``a + a``), optionally a long chain, and a root
that sums every node nothing else uses, so every node reaches the root. Values stay in the operations'
good domains (``log`` of a number above ½, no division by a number near 0, ``relu`` away from its kink).

:func:`build` applies the steps with Python's operators and the engine's methods, so the same spec runs in
a student's class (through the grader's handles, only plain numbers cross) and in torch (float64):
:func:`torch_reference` gives every node's value and gradient.

The checker names the catalogued mistakes (``=`` for ``+=``, the upstream gradient left out, the wrong
operand in the product rule, the nodes visited in the wrong order, a wrong rule of a new operation, stale or
reset gradients over repeated calls) by computing what an engine with each one gives. This module holds no
engine, no local rule and no way of ordering a graph, since students install it: every number comes from
torch. :func:`mistaken_local` applies a mistake to torch's local derivatives of one node;
:func:`mistaken_gradients` and :func:`mistaken_calls` run torch's own backward pass on the graph the
lecture's engine makes for a spec (:func:`_lecture_graph`, its nodes listed as they were made), altered or
seeded for the mistake, or pass torch's local derivatives along single edges where the mistake stops the
chain rule. ``=`` for ``+=`` is left to one node's step: over a whole graph its result depends on the order
the engine runs its rules in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .checker import vjp

# For tests that touch every node of a large graph: each is its loop, in one request when the nodes are a
# student's objects across the sandbox wall (autograder/grading/remote.py).
from .grading.remote import attribute_of_each, call_on_each, call_with_each, set_on_each  # noqa: F401

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


# ------------------------------------------------------------------- one node's local derivatives, by torch


def _slot_gradients(function: Callable[..., torch.Tensor], values: list[float]) -> list[float]:
    """∂function/∂slot for each slot (argument) at ``values``, by torch.autograd in float64: a node's local
    derivatives, one per parent slot (``a * a`` has two slots holding the same value)."""
    slots = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in values]
    with torch.enable_grad():
        grads = torch.autograd.grad(function(*slots), slots, allow_unused=True)
    return [0.0 if g is None else g.item() for g in grads]


def _one_node(op: str) -> Callable[..., torch.Tensor]:
    """``op`` as a function of its slots: the operand node(s), then the number if it has one."""
    return lambda a, b=None: apply(op, a, b)


PRODUCTS = ("*", "*c", "c*")  # slots 0 and 1 multiplied
EXPONENTS_OF = {"pow": (0, 1), "**": (0, 1), "c**": (1, 0)}  # op → (the base's slot, the exponent's slot)
DIVISOR_OF = {"/": 1, "/c": 1, "c/": 0}  # op → the divisor's slot


def _shares(op: str, local: list[float], mode: str) -> list[float]:
    """What a node of ``op`` with one mistake (``mode``) multiplies into each slot, from its right local
    derivatives ``local``: the operands of a product swapped, the exponent's derivative left out or taken
    as the base's, the divisor's with its sign flipped; any other mode leaves them right."""
    shares = list(local)
    if mode == "wrong_operand" and (op in PRODUCTS or op == "dot"):
        for i in range(0, len(shares) - 1, 2):  # each slot gets its own value: the other slot's derivative
            shares[i], shares[i + 1] = shares[i + 1], shares[i]
    elif mode in ("no_exponent", "exponent_as_base") and op in EXPONENTS_OF:
        base, exponent = EXPONENTS_OF[op]
        shares[exponent] = 0.0 if mode == "no_exponent" else shares[base]
    elif mode == "divisor_sign" and op in DIVISOR_OF:
        shares[DIVISOR_OF[op]] *= -1.0
    return shares


def _pass_on(grads: list[float], targets, shares: list[float], upstream: float, mode: str) -> None:
    """One local backward step, slot by slot in the node's order: share × upstream added to the slot's node
    (``targets[slot]``, None for a number), or with a mistake written over it or added without upstream."""
    for target, share in zip(targets, shares, strict=True):
        if target is not None:
            delta = share if mode == "no_chain" else share * upstream
            grads[target] = delta if mode == "assign" else grads[target] + delta


# ----------------------------------------------------------------------- one local step, and its mistakes

MISTAKES = {  # mistake id (mistakes.toml) → what the engine does wrong in one backward()
    "fork_branch_missing": "assign",  # parent.grad = ... instead of +=
    "out_grad_missing": "no_chain",  # parent.grad += local, without out.grad
    "product_wrong_operand": "wrong_operand",  # a.grad += a.data * out.grad in a product
    "backward_wrong_order": "forward_order",  # local backward rules run leaves first
}
RULE_MISTAKES = {  # mistake id → a wrong local rule of one of Exercise 4's operations
    "exponent_grad_missing": "no_exponent",  # a ** b with b a node: b gets nothing
    "power_rule_on_exponent": "exponent_as_base",  # the exponent gets the base's derivative
    "quotient_sign": "divisor_sign",  # the divisor's derivative with its sign flipped
}
REPEAT_MISTAKES = {  # mistake id → what the engine does wrong when backward() runs more than once
    "inner_grad_stale": "stale",  # an inner node keeps the gradient of the call before
    "leaf_grad_reset": "reset_all",  # backward() sets every gradient to 0, the leaves' too
    "zero_grad_did_nothing": "zero_nothing",  # zero_grad() leaves the gradients as they are
    "backward_seed_missing": "no_seed",  # the output's gradient never set to 1, or set and then reset
    "leaf_output_grad_overwritten": "seed_assigned",  # a leaf as the output: its .grad set to 1, not added to
}
LOCAL_MISTAKES = tuple(key for key in MISTAKES if key != "backward_wrong_order")


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


def counted_local_step(engine, op, inputs, number, before, upstream, twice=False):
    """:func:`local_step`, and the nodes ``engine`` counted (its class attribute ``made``, which the
    constructor raises by one): for one ``engine(0.5)``, while ``op`` builds its node, and while that node's
    ``local_backward()`` runs. A rule derived by hand makes no node; one that runs other operations does."""
    nodes = [engine(x) for x in inputs]
    first, second = (nodes[0], nodes[0]) if twice else (nodes[0], nodes[-1])
    start = int(engine.made)
    engine(0.5)
    probe = int(engine.made)
    out = apply(op, first, second if _two_nodes(op) else number)
    built = int(engine.made)
    for node, grad in zip(nodes, before, strict=True):
        node.grad = grad
    out.grad = upstream
    out.local_backward()
    made = [probe - start, built - probe, int(engine.made) - built]
    return float(out.data), [float(node.grad) for node in nodes], made


def torch_local(op, inputs, number, before, upstream, twice=False) -> tuple[float, list[float]]:
    """The same step by torch: the output's value, and ``before`` + upstream × ∂out/∂input for each input."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    first, second = (leaves[0], leaves[0]) if twice else (leaves[0], leaves[-1])
    with torch.enable_grad():
        out = apply(op, first, second if _two_nodes(op) else number)
        grads = vjp(out, leaves, torch.tensor(upstream, dtype=torch.float64))
    return out.item(), [b + g.item() for b, g in zip(before, grads, strict=True)]


def mistaken_local(op, inputs, number, before, upstream, twice=False, mistakes=LOCAL_MISTAKES):
    """For each mistake id (of ``MISTAKES`` but the order, or of ``RULE_MISTAKES``): the inputs' gradients
    after one local backward step of ``op``, one node, with that mistake; its local derivatives by torch."""
    if _two_nodes(op):
        values, targets = ([inputs[0]] * 2, [0, 0]) if twice else (list(inputs[:2]), [0, 1])
    elif number is not None:
        values, targets = [inputs[0], number], [0, None]  # the number, a slot no input receives from
    else:
        values, targets = [inputs[0]], [0]
    local = _slot_gradients(_one_node(op), values)
    found = {}
    for key in mistakes:
        mode = {**MISTAKES, **RULE_MISTAKES}[key]
        grads = list(before)
        _pass_on(grads, targets, _shares(op, local, mode), upstream, mode)
        found[key] = grads
    return found


def _dot_slots(values, wi, xi) -> tuple[list[float], list[int]]:
    """The slots of dot over the labelled nodes ``wi``, ``xi``, in its order: w₁, x₁, w₂, x₂, …"""
    targets = [node for pair in zip(wi, xi, strict=True) for node in pair]
    return [values[node] for node in targets], targets


def _dot(*slots: torch.Tensor) -> torch.Tensor:
    return sum(slots[i] * slots[i + 1] for i in range(0, len(slots), 2))


def torch_dot_local(values, before, wi, xi, upstream) -> list[float]:
    """Every labelled node's gradient after one local backward of ``dot`` over the nodes ``wi``, ``xi``
    (labels into ``values``; a node may appear several times), by torch: before + upstream × ∂out/∂node."""
    leaves = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in values]
    with torch.enable_grad():
        out = _dot(*(leaves[node] for node in _dot_slots(values, wi, xi)[1]))
        grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return [b + (0.0 if g is None else upstream * g.item()) for b, g in zip(before, grads, strict=True)]


def mistaken_dot_local(values, before, wi, xi, upstream, mistakes=LOCAL_MISTAKES) -> dict[str, list[float]]:
    """For each mistake id: every labelled node's gradient after one local backward of ``dot`` with it."""
    slots, targets = _dot_slots(values, wi, xi)
    local = _slot_gradients(_dot, slots)
    found = {}
    for key in mistakes:
        grads = list(before)
        _pass_on(grads, targets, _shares("dot", local, MISTAKES[key]), upstream, MISTAKES[key])
        found[key] = grads
    return found


def _stacked(function: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda *slots: function(torch.stack(slots))


def torch_node_local(function, values, before, picks, upstream) -> list[float]:
    """Every labelled node's gradient after one local backward of a node ``function(x)`` (``x`` the 1-D
    tensor of its parents ``picks``, labels into ``values``; a node may appear several times), by torch:
    before + upstream × ∂out/∂node."""
    leaves = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in values]
    with torch.enable_grad():
        out = _stacked(function)(*(leaves[node] for node in picks))
        grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return [b + (0.0 if g is None else upstream * g.item()) for b, g in zip(before, grads, strict=True)]


def mistaken_node_local(
    function, values, before, picks, upstream, mistakes=("fork_branch_missing", "out_grad_missing")
) -> dict[str, list[float]]:
    """For each mistake id of ``MISTAKES``: every labelled node's gradient after one local backward of the
    node ``function(x)`` over the parents ``picks`` with that mistake; its local derivatives by torch."""
    local = _slot_gradients(_stacked(function), [values[node] for node in picks])
    found = {}
    for key in mistakes:
        grads = list(before)
        _pass_on(grads, list(picks), _shares("many", local, MISTAKES[key]), upstream, MISTAKES[key])
        found[key] = grads
    return found


# --------------------------------------------------- the graph the lecture's engine builds, as data


@dataclass
class _Node:
    op: str  # "leaf", or an operation the lecture's engine makes as one node
    parents: tuple[int, ...] = ()  # indices of earlier nodes, in the order the node's rule takes them
    number: float | None = None  # a leaf's value; the exponent of "**"


def _lecture_graph(spec: Spec) -> tuple[list[_Node], list[int]]:
    """The nodes the lecture's engine makes for ``spec`` (numbers wrapped as leaves of their own, and
    ``-``, ``neg``, division made from ``+``, ``*`` and ``** -1`` as Section 3 does), and where each of
    ``spec``'s nodes is among them."""
    graph = [_Node("leaf", (), value) for value in spec.leaves]
    where = list(range(len(spec.leaves)))

    def node(op, *parents, number=None):
        graph.append(_Node(op, parents, number))
        return len(graph) - 1

    for op, a, b in spec.steps:
        where.append(_lecture_step(op, where[a], where[b] if _two_nodes(op) else b, node))
    return graph, where


def _lecture_step(op: str, a: int, b, node: Callable[..., int]) -> int:
    """One step of a spec in the lecture's engine: the node made last (``node`` adds one to the graph)."""

    def constant(value):
        return node("leaf", number=value)

    made = {
        "-": lambda: node("+", a, node("*", b, constant(-1.0))),
        "/": lambda: node("*", a, node("**", b, number=-1)),
        "+c": lambda: node("+", a, constant(b)),
        "c+": lambda: node("+", a, constant(b)),
        "-c": lambda: node("+", a, constant(-b)),
        "c-": lambda: node("+", node("*", a, constant(-1.0)), constant(b)),
        "*c": lambda: node("*", a, constant(b)),
        "c*": lambda: node("*", a, constant(b)),
        "neg": lambda: node("*", a, constant(-1.0)),
        "/c": lambda: node("*", a, constant(b**-1)),
        "c/": lambda: node("*", node("**", a, number=-1), constant(b)),
        "**": lambda: node("**", a, number=b),
        "c**": lambda: node("pow", constant(b), a),
    }
    return made[op]() if op in made else node(op, a, b) if _two_nodes(op) else node(op, a)


def _local_derivatives(graph: list[_Node]) -> list[list[float]]:
    """Each node's local derivatives, one per parent slot, by torch.autograd: every node's operation on
    leaves of its own (its parents' values), one backward pass over them all."""
    values, outs, slots = [], [], []
    with torch.enable_grad():
        for node in graph:
            if not node.parents:
                values.append(node.number)
                continue
            own = [torch.tensor(values[p], dtype=torch.float64, requires_grad=True) for p in node.parents]
            out = apply(node.op, own[0], own[1] if len(own) == 2 else node.number)
            values.append(out.item())
            outs.append(out)
            slots.extend(own)
        grads = torch.autograd.grad(torch.stack(outs).sum(), slots) if outs else ()
    local, used = [], 0
    for node in graph:
        local.append([g.item() for g in grads[used : used + len(node.parents)]])
        used += len(node.parents)
    return local


def _ancestors(graph: list[_Node], root: int) -> set[int]:
    """``root`` and every node its value is made from. The graph lists its nodes as they were made, every
    parent before its children, so one pass down from ``root`` finds them."""
    below = {root}
    for index in range(root, -1, -1):
        if index in below:
            below.update(graph[index].parents)
    return below


def _as_tensors(graph: list[_Node], mode: str) -> list[torch.Tensor]:
    """The graph in torch, node by node (float64; every node's gradient readable). With ``mode``
    "wrong_operand" each product keeps its value but hands each operand its own value as its derivative:
    what a product rule with the operands swapped passes on."""
    tensors: list[torch.Tensor] = []
    for node in graph:
        if not node.parents:
            tensors.append(torch.tensor(float(node.number), dtype=torch.float64, requires_grad=True))
            continue
        own = [tensors[p] for p in node.parents]
        if mode == "wrong_operand" and node.op == "*":
            a, b = own
            slope = (a * a + b * b) / 2  # ∂/∂a = a, ∂/∂b = b
            tensors.append((a * b).detach() + (slope - slope.detach()))
        else:
            tensors.append(apply(node.op, own[0], own[1] if len(own) == 2 else node.number))
    return tensors


def _seeded(tensors: list[torch.Tensor], seeds: dict[int, float]) -> list[float]:
    """∂J/∂node for every node, J = Σ seeds[i]·node_i, by torch.autograd (0 for a node J does not use)."""
    total = sum(weight * tensors[index] for index, weight in seeds.items())
    grads = torch.autograd.grad(total, tensors, retain_graph=True, allow_unused=True)
    return [0.0 if g is None else g.item() for g in grads]


def _after_calls(graph, local, where, calls, mode: str) -> list[float]:
    """Every spec node's gradient after ``calls`` in an engine with one mistake (``mode``; "right": none),
    each node holding what the exercise's convention says (a leaf adds up over the calls, an inner node holds
    one call's gradient). The numbers are torch's: a backward pass of torch's on the graph (altered for a
    wrong product rule, seeded with what stale inner nodes still hold), or torch's local derivatives passed
    on one edge at a time where the mistake stops the chain rule."""
    if mode == "assign":
        raise ValueError("= for += keeps what the last rule to run wrote: that depends on the engine's order")
    with torch.enable_grad():
        tensors = _as_tensors(graph, mode)
        grads = [0.0] * len(graph)
        for what, index in calls:
            root = where[index]
            below = _ancestors(graph, root)
            inner = [node for node in below if graph[node].parents]
            if what == "zero_grad":
                cleared = below if mode != "zero_nothing" else set()
                for node in cleared:
                    grads[node] = 0.0
                continue
            if mode in ("forward_order", "no_chain"):  # no upstream gradient reaches past one edge
                for node in inner:
                    grads[node] = 0.0
                grads[root] = 1.0
                # leaves first, every inner node holds 0 when its rule runs: only the root passes anything on
                for node in [root] if mode == "forward_order" else inner:
                    _pass_on(grads, graph[node].parents, local[node], 1.0, mode)
                continue
            seeds = {root: 0.0 if mode == "no_seed" else 1.0}  # no seed: nothing flows from the root
            if mode == "stale":  # what an inner node still holds is passed on with this call's gradient
                seeds.update({node: grads[node] for node in inner if node != root and grads[node]})
            upstream = _seeded(tensors, seeds)
            for node in below:
                reset = mode == "reset_all" or (mode == "seed_assigned" and node == root)
                kept = 0.0 if graph[node].parents or reset else grads[node]
                grads[node] = kept + upstream[node]
    return [grads[node] for node in where]


def propagated(spec: Spec, calls, mode: str = "right") -> list[float]:
    """Every node's gradient after ``calls`` (as in :func:`calls_in`) in an engine with mistake ``mode``."""
    graph, where = _lecture_graph(spec)
    return _after_calls(graph, _local_derivatives(graph), where, calls, mode)


ORDER_FREE = tuple(key for key, mode in MISTAKES.items() if mode != "assign")  # any topological order agrees


def mistaken_gradients(spec: Spec, mistakes=(*ORDER_FREE, "backward_seed_missing")) -> dict[str, list[float]]:
    """For each mistake id: every node's gradient after ``backward()`` in an engine with that mistake."""
    graph, where = _lecture_graph(spec)
    local, calls = _local_derivatives(graph), [("backward", spec.size - 1)]
    modes = {**MISTAKES, **REPEAT_MISTAKES}
    return {key: _after_calls(graph, local, where, calls, modes[key]) for key in mistakes}


def mistaken_calls(spec: Spec, calls, mistakes=tuple(REPEAT_MISTAKES)) -> dict[str, list[float]]:
    """For each mistake id of ``REPEAT_MISTAKES``: every node's gradient after ``calls`` in that engine."""
    graph, where = _lecture_graph(spec)
    local = _local_derivatives(graph)
    return {key: _after_calls(graph, local, where, calls, REPEAT_MISTAKES[key]) for key in mistakes}


# --------------------------------------------------------------- backward() called more than once


def calls_in(engine, spec: Spec, calls) -> list[float]:
    """Every node's gradient after ``calls`` in ``engine``: ("backward", i) or ("zero_grad", i) on node i."""
    nodes = build(spec, engine)
    for what, index in calls:
        (nodes[index].backward if what == "backward" else nodes[index].zero_grad)()
    return [float(grad) for grad in attribute_of_each(nodes, "grad")]


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
