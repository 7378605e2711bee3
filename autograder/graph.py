"""Draw a computation graph with matplotlib: forward values in green, gradients in red, on every node.

A graph is built by hand, node by node, in the order of the forward pass::

    g = Graph(output="loss")
    g.var("x", 1.0); g.var("w", 1.0)
    g.op("ŷ", "×", ["x", "w"], value=1.0)
    g.draw()

Or it is read off the graph that autograd recorded behind a tensor::

    obj = (2 * (x + 1) ** 2).mean()
    Graph.from_tensor(obj, x=x, obj=obj).draw()

or off any engine whose nodes know their parents (unit 5's scalar ``Value``)::

    Graph.from_nodes(loss, symbols={"*": "×"}, x=x, w=w, loss=loss).draw()

Inputs (leaves) are drawn as boxes, operations as circles holding their operator; each node shows its
forward value and, once set, the gradient of the output with respect to it. A value may be a small
tensor: up to four entries are written out (``[[2, 2], [2, 2]]``), a larger one as its shape. The layout
is computed from the edges (column = longest path from an input), so a drawing never needs coordinates
by hand. Labels are mathematical only, so one figure serves the Korean and the English lecture.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

VALUE_COLOUR = "#1b7837"
GRAD_COLOUR = "#d62728"
RADIUS = 0.42  # of an operation's circle; an input's box is as wide
SKIP_BEND = 0.3  # curvature of an edge that skips a column (matplotlib arc3 rad)
SHOWN_ENTRIES = 4  # a tensor with at most this many entries is written out in full, a larger one by shape


@dataclass
class Node:
    name: str
    symbol: str | None = None  # an operator, for operation nodes; None for inputs
    inputs: list[str] = field(default_factory=list)
    value: object = None  # a number, or a (small) tensor, array or nested list
    grad: object = None

    @property
    def is_input(self) -> bool:
        return self.symbol is None


@dataclass
class Graph:
    """Nodes in forward order; ``output`` names the node whose gradient the red numbers are."""

    output: str = "L"
    nodes: dict[str, Node] = field(default_factory=dict)
    # What ``watch()`` steps through, kept by ``from_tensor`` and ``from_nodes`` (a graph drawn by hand has
    # none): each operation's own backward rule, upstream gradient → what flows to each of its inputs (one
    # entry per input in ``node.inputs``, each tagged with the output slot of the input it reaches), and the
    # output's value and the gradient the backward pass starts from.
    rules: dict[str, Callable] = field(default_factory=dict, repr=False, compare=False)
    output_value: object = field(default=None, repr=False, compare=False)
    start: object = field(default=None, repr=False, compare=False)

    def var(self, name: str, value: object = None, grad: object = None) -> Node:
        return self._add(Node(name, None, [], value, grad))

    def op(
        self, name: str, symbol: str, inputs: list[str], value: object = None, grad: object = None
    ) -> Node:
        unknown = [i for i in inputs if i not in self.nodes]
        if unknown:
            raise KeyError(f"inputs not yet in the graph: {unknown}")
        return self._add(Node(name, symbol, list(inputs), value, grad))

    def _add(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise KeyError(f"node {node.name!r} is already in the graph")
        self.nodes[node.name] = node
        return node

    def set_grads(self, grads: dict[str, object]) -> None:
        for name, grad in grads.items():
            self.nodes[name].grad = grad

    # ------------------------------------------------------------------------ from autograd's graph

    @classmethod
    def from_tensor(cls, output: torch.Tensor, /, **named: torch.Tensor) -> Graph:
        """The graph autograd recorded behind ``output``, read from ``output.grad_fn``.

        Every backward function met by following ``next_functions`` becomes an operation node labelled
        with its operation (``AddBackward0`` → ``Add``); every ``AccumulateGrad`` becomes an input box for
        its leaf tensor. ``None`` entries, inputs that need no gradient such as the constant in ``x + 1``,
        are left out. Tensors passed by keyword name their nodes and put their value on them, and their
        gradient too once ``.grad`` is set (a leaf after ``backward()``, or a tensor that called
        ``retain_grad()``); a leaf always shows its value. A leaf is found by ``fn.variable is tensor``,
        any other tensor by ``tensor.grad_fn is fn``. Unnamed leaves are called ``t1``, ``t2``, ...
        """
        if output.grad_fn is None:
            raise ValueError(
                "the output has no grad_fn: autograd recorded nothing behind it "
                "(is it a leaf, or was it computed from tensors without requires_grad=True?)"
            )
        functions = _backward_functions(output.grad_fn)
        names = _names_of(functions, named)
        taken = set(named)
        graph = cls(output=names.get(id(output.grad_fn), "L"))
        node_name: dict[int, str] = {}
        for index, fn in enumerate(functions):
            if hasattr(fn, "variable"):  # AccumulateGrad: the end of the graph at a leaf tensor
                name = names.get(id(fn)) or _fresh("t", taken)
                leaf = fn.variable
                node = graph.var(name, _plain(leaf), _plain(leaf.grad))
            else:
                inputs = [node_name[id(child)] for child, _ in fn.next_functions if child is not None]
                name = names.get(id(fn)) or f"{operation_label(fn)}#{index}"  # '#': never a keyword name
                node = graph.op(name, operation_label(fn), inputs)
                tensor = named.get(name)
                if tensor is not None:
                    node.value = _plain(tensor)
                    node.grad = _plain(tensor.grad) if tensor.retains_grad else None
            node_name[id(fn)] = node.name
        for fn in functions:
            if not hasattr(fn, "variable"):
                graph.rules[node_name[id(fn)]] = _grad_fn_rule(fn)
        graph.output_value = _plain(output)
        graph.start = output
        return graph

    # ------------------------------------------------------- from any structure of nodes and parents

    @classmethod
    def from_nodes(
        cls,
        output: object,
        /,
        *,
        parents: str = "parents",
        symbol: str = "op",
        value: str = "data",
        grad: str | None = "grad",
        backward: str = "local_backward",
        symbols: dict[str, str] | None = None,
        **named: object,
    ) -> Graph:
        """The graph behind ``output`` in any engine whose nodes know their parents (unit 5's ``Value``).

        A node's inputs are ``getattr(node, parents)``, its operator ``getattr(node, symbol)`` (written
        through ``symbols``, e.g. ``{"*": "×"}``), its value and gradient the attributes ``value`` and
        ``grad`` (``grad=None``: no gradients drawn). ``backward`` names the method that runs a node's own
        backward rule, adding ``node.grad`` times each local gradient to its parents' ``grad`` (unit 5's
        ``local_backward``; micrograd calls it ``_backward``): ``watch()`` steps through it. A node without
        parents is an input box. Nodes are told apart by identity, so a node used twice is drawn once with two
        edges. Objects passed by keyword name their nodes; other inputs are called ``t1``, ``t2``, ..., other
        operations ``n1``, ``n2``, ..., and the output ``L`` unless named.
        """
        order, seen = [], {id(output)}
        stack = [(output, iter(getattr(output, parents)))]
        while stack:  # depth first without recursion, each node after its parents
            node, pending = stack[-1]
            for parent in pending:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(getattr(parent, parents))))
                    break
            else:
                stack.pop()
                order.append(node)
        names = {id(obj): name for name, obj in named.items()}
        unknown = [name for name, obj in named.items() if id(obj) not in seen]
        if unknown:
            raise ValueError(f"{unknown} are not in the graph behind the output")
        graph = cls(output=names.get(id(output), "L"))
        taken = set(named) | {graph.output}
        node_name: dict[int, str] = {}
        for node in order:
            inputs = [node_name[id(p)] for p in getattr(node, parents)]
            shown = getattr(node, grad) if grad is not None else None
            if not inputs:
                name = names.get(id(node)) or _fresh("t", taken)
                graph.var(name, getattr(node, value), shown)
            else:
                label = str(getattr(node, symbol))
                label = (symbols or {}).get(label, label)
                name = names.get(id(node)) or (graph.output if node is output else _fresh("n", taken))
                graph.op(name, label, list(dict.fromkeys(inputs)), getattr(node, value), shown)
                if grad is not None and callable(getattr(node, backward, None)):
                    unique = list({id(p): p for p in getattr(node, parents)}.values())
                    graph.rules[name] = _node_rule(node, unique, grad, backward)
            node_name[id(node)] = name
        graph.output_value = getattr(output, value)
        graph.start = 1.0
        return graph

    # ------------------------------------------------------------------------------ stepping through

    def watch(self, *, static: bool = False, lang: str | None = None, gradient: object = None):
        """The forward pass, then the backward pass, one node at a time: a slider over frames.

        Forward frames fill in each node's value in the order of the forward pass. Backward frames go the
        other way; each highlights the node whose gradient is computed, the edges to the nodes that use it,
        and the local gradient on each edge, and writes the chain rule with its numbers, e.g.
        ``∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1`` (a sum where the graph forks).
        Every number comes from the graph's own backward rules: the recorded ``grad_fn`` of each
        operation for ``from_tensor`` (its backward called with the upstream gradient, so the graph must
        not be freed yet: call ``watch()`` before ``backward()``, or use ``retain_graph=True``), each
        node's rule for ``from_nodes``. ``gradient`` starts the backward pass of a non-scalar output, as
        ``backward(gradient=...)`` does. Captions are in ``lang`` (``ko``, ``en``; default as the checker's
        messages: ``$COURSE_LANG``, else both).

        The result is a ``BackpropView`` (see ``autograder.watch``). In JupyterLab it shows an ipywidgets
        slider with a play button, the frame, and the step's equation as text. Where widgets cannot run
        (a static site, exported HTML, a front-end without ipywidgets), the same frames appear as a
        static strip, a grid of small images with their equations: the view carries that strip as its
        HTML and PNG fallback, which nbconvert and static sites render when they cannot render the
        widget. ``static=True`` gives the strip alone.
        """
        from .watch import BackpropView

        return BackpropView(self, static=static, lang=lang, gradient=gradient)

    # ------------------------------------------------------------------------------------ layout

    def columns(self) -> dict[str, int]:
        """Each node's column: 0 for inputs, else one more than its deepest input."""
        column: dict[str, int] = {}
        for node in self.nodes.values():  # forward order, so inputs come first
            column[node.name] = 1 + max((column[i] for i in node.inputs), default=-1)
        return column

    def positions(self) -> dict[str, tuple[float, float]]:
        column = self.columns()
        by_column: dict[int, list[str]] = {}
        for name, c in column.items():
            by_column.setdefault(c, []).append(name)
        pos = {}
        for c, names in by_column.items():
            for row, name in enumerate(names):  # centred on y = 0, top to bottom in forward order
                pos[name] = (2.6 * c, ((len(names) - 1) / 2 - row) * 2.0)
        return pos

    # ----------------------------------------------------------------------------------- drawing

    def edge(self, src: str, dst: str, color: str = "#555555", linewidth: float = 1.3) -> FancyArrowPatch:
        """The arrow ``src`` → ``dst`` as ``draw`` draws it."""
        pos, column = self.positions(), self.columns()
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        # An edge that skips a column would run through the nodes (and labels) between its ends:
        # bend it outwards, up in the upper half of the drawing and down in the lower half.
        skips = column[dst] - column[src] > 1
        rad = 0.0 if not skips else (-SKIP_BEND if y0 + y1 >= 0 else SKIP_BEND)
        return FancyArrowPatch(
            (x0 + RADIUS, y0),
            (x1 - RADIUS, y1),
            arrowstyle="-|>",
            mutation_scale=14,
            color=color,
            linewidth=linewidth,
            shrinkA=2,
            shrinkB=2,
            connectionstyle=f"arc3,rad={rad}",
        )

    def edge_midpoint(self, src: str, dst: str) -> tuple[float, float]:
        """The middle of the arrow ``src`` → ``dst``: of the line, or of the arc3 curve (a quadratic
        Bézier, whose middle is halfway to its control point) when the edge skips a column."""
        pos, column = self.positions(), self.columns()
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        (ax0, ay0), (ax1, ay1) = (x0 + RADIUS, y0), (x1 - RADIUS, y1)
        mx, my = (ax0 + ax1) / 2, (ay0 + ay1) / 2
        if column[dst] - column[src] > 1:
            rad = -SKIP_BEND if y0 + y1 >= 0 else SKIP_BEND
            mx, my = mx + rad / 2 * (ay1 - ay0), my - rad / 2 * (ax1 - ax0)
        return mx, my

    def draw(self, ax=None, title: str | None = None) -> Figure:
        pos = self.positions()
        if ax is None:
            width = 2.0 + 2.1 * (max(self.columns().values()) + 1)
            height = 1.2 + 1.5 * max(1, len({y for _, y in pos.values()}))
            fig, ax = plt.subplots(figsize=(width, height))
        else:
            fig = ax.figure
        radius = RADIUS
        for node in self.nodes.values():
            for src in node.inputs:
                ax.add_patch(self.edge(src, node.name))
        for node in self.nodes.values():
            x, y = pos[node.name]
            if node.is_input:
                ax.add_patch(
                    FancyBboxPatch(
                        (x - radius, y - radius * 0.75),
                        2 * radius,
                        1.5 * radius,
                        boxstyle="round,pad=0.05",
                        facecolor="#f0f0f0",
                        edgecolor="#333333",
                    )
                )
                ax.text(x, y, f"${_tex(node.name)}$", ha="center", va="center", fontsize=13)
            else:
                ax.add_patch(Circle((x, y), radius, facecolor="#fff7e6", edgecolor="#333333"))
                # a word such as "Mean" needs a smaller size than an operator to fit in the circle,
                # and one of five letters or more ("Clone", "where") a smaller one still
                short = len(node.symbol) <= 3 or "$" in node.symbol
                size = 14 if short else 11 if len(node.symbol) <= 4 else 9
                ax.text(x, y, node.symbol, ha="center", va="center", fontsize=size)
            label = node.name
            if node.value is not None:
                ax.text(
                    x,
                    y + radius + 0.12,
                    f"${_equation(_tex(label), node.value)}$",
                    ha="center",
                    va="bottom",
                    color=VALUE_COLOUR,
                    fontsize=11,
                )
            if node.grad is not None:
                derivative = rf"\partial {_tex(self.output)}/\partial {_tex(label)}"
                ax.text(
                    x,
                    y - radius - 0.12,
                    f"${_equation(derivative, node.grad)}$",
                    ha="center",
                    va="top",
                    color=GRAD_COLOUR,
                    fontsize=11,
                )
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        ax.set_xlim(min(xs) - 1.3, max(xs) + 1.3)
        ax.set_ylim(min(ys) - 1.2, max(ys) + 1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title)
        return fig


_TEX = {"ŷ": r"\hat{y}", "∂": r"\partial "}


def _tex(name: str) -> str:
    """A node name as mathtext: ``ŷ`` → ``\\hat{y}``, ``x1`` → ``x_{1}``, ``obj`` → ``\\mathrm{obj}``."""
    if "#" in name:  # an unnamed operation of a recorded graph: "Pow#2"
        head, _, number = name.partition("#")
        return rf"\mathrm{{{head}}}\#{number}"
    for plain, tex in _TEX.items():
        name = name.replace(plain, tex)
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    if len(head) > 1 and head.isascii() and head.isalpha():  # a word, not a product of letters
        head = rf"\mathrm{{{head}}}"
    if tail and head:
        return f"{head}_{{{tail}}}"
    return head


def _number(value: float) -> str:
    return f"{value:.4g}"


def _equation(lhs: str, value: object) -> str:
    """``lhs = value`` as mathtext: a number, a small tensor written out, a larger one by its shape."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{lhs} = {_number(float(array))}"
    if array.size <= SHOWN_ENTRIES:
        return f"{lhs} = {_nested(array)}"
    shape = r"\times ".join(str(n) for n in array.shape)
    if np.all(array == array.flat[0]):  # every entry the same: that value times a tensor of ones
        return rf"{lhs} = {_number(float(array.flat[0]))}\cdot\mathbf{{1}}_{{{shape}}}"
    return rf"{lhs} \in \mathbb{{R}}^{{{shape}}}"


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return _number(float(array))
    return "[" + ",".join(_nested(part) for part in array) + "]"


def operation_label(fn: object) -> str:
    """The operation of a backward function: ``MulBackward0`` → ``Mul``; other classes keep their name."""
    name = type(fn).__name__
    match = re.fullmatch(r"(\w+?)Backward\d*", name)
    return match.group(1) if match else name


def _backward_functions(root: object) -> list:
    """Every backward function reachable from ``root``, each after all of its inputs (root last)."""
    order, seen = [], {id(root)}
    stack = [(root, iter(root.next_functions))]
    while stack:  # depth first, without recursion: a recorded graph can be thousands of nodes deep
        fn, children = stack[-1]
        for child, _ in children:
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(child.next_functions)))
                break
        else:
            stack.pop()
            order.append(fn)
    return order


def _names_of(functions: list, named: dict[str, torch.Tensor]) -> dict[int, str]:
    """``id(fn)`` → the name of the tensor that ``fn`` belongs to, for the keyword-named tensors."""
    names: dict[int, str] = {}
    for name, tensor in named.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name!r} must be a tensor, not {type(tensor).__name__}")
        if tensor.grad_fn is not None:
            owner = [fn for fn in functions if tensor.grad_fn is fn]
        else:
            owner = [fn for fn in functions if getattr(fn, "variable", None) is tensor]
        if not owner:
            raise ValueError(
                f"tensor {name!r} is not in the graph behind the output: it does not require grad, "
                "or the output was not computed from it"
            )
        if id(owner[0]) in names:
            raise ValueError(f"{names[id(owner[0])]!r} and {name!r} name the same node")
        names[id(owner[0])] = name
    return names


def _grad_fn_rule(fn: object) -> Callable:
    """``fn``'s own backward (a recorded ``grad_fn``) as a rule: upstream → [(slot, gradient)] per input.

    ``upstream`` holds one gradient per output of the operation (most have one). Called as autograd's
    engine calls it, with no graph recorded; a gradient is summed to its input's shape where the
    operation broadcast (the engine does the same), and an input the operation gives no gradient gets
    zeros."""
    edges = [(child, slot) for child, slot in fn.next_functions if child is not None]

    def rule(upstream: tuple) -> list[tuple[int, object]]:
        with torch.no_grad():
            grads = fn(*upstream)
        grads = grads if isinstance(grads, tuple) else (grads,)
        flowing = [g for (child, _), g in zip(fn.next_functions, grads, strict=True) if child is not None]
        out = []
        for (child, slot), g in zip(edges, flowing, strict=True):
            meta = child.variable if hasattr(child, "variable") else child._input_metadata[slot]
            if g is None:
                g = torch.zeros(meta.shape, dtype=meta.dtype)
            elif tuple(g.shape) != tuple(meta.shape):
                g = g.sum_to_size(meta.shape)
            out.append((slot, g))
        return out

    rule.outputs = [(m.shape, m.dtype) for m in fn._input_metadata]
    return rule


def _node_rule(node: object, unique_parents: list, grad: str, backward: str) -> Callable:
    """A node's own backward rule (``node.<backward>()``) as a rule: upstream → [(0, gradient)] per
    parent. It runs with ``node.grad`` set to the upstream gradient and each parent's ``grad`` at zero,
    so what a parent holds afterwards is what flows to it; every ``grad`` is put back afterwards."""

    def rule(upstream: tuple) -> list[tuple[int, object]]:
        saved = [(obj, getattr(obj, grad)) for obj in (node, *unique_parents)]
        try:
            for parent in unique_parents:
                setattr(parent, grad, 0.0)
            setattr(node, grad, upstream[0])
            getattr(node, backward)()
            return [(0, getattr(parent, grad)) for parent in unique_parents]
        finally:
            for obj, before in saved:
                setattr(obj, grad, before)

    rule.outputs = None
    return rule


def _fresh(prefix: str, taken: set[str]) -> str:
    """``t1``, ``t2``, ...: the first name with ``prefix`` that is not taken yet (and take it)."""
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    taken.add(f"{prefix}{number}")
    return f"{prefix}{number}"


def _plain(tensor: torch.Tensor | None) -> object:
    """A tensor's numbers for a label: a float for a 0-d tensor, else a detached float64 array."""
    if tensor is None:
        return None
    array = tensor.detach().cpu().to(torch.float64).numpy()
    return float(array) if array.ndim == 0 else array
