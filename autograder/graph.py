"""Draw a computation graph with matplotlib: forward values in green, gradients in red, on every node.

A graph is built by hand, node by node, in the order of the forward pass::

    g = Graph(output="loss")
    g.var("x", 1.0); g.var("w", 1.0)
    g.op("ŷ", "×", ["x", "w"], value=1.0)
    g.draw()

Inputs (leaves) are drawn as boxes, operations as circles holding their operator; each node shows its
forward value and, once set, the gradient of the output with respect to it. The layout is computed
from the edges (column = longest path from an input), so a drawing never needs coordinates by hand.
Labels are mathematical only, so one figure serves the Korean and the English lecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

VALUE_COLOUR = "#1b7837"
GRAD_COLOUR = "#d62728"
SKIP_BEND = 0.3  # curvature of an edge that skips a column (matplotlib arc3 rad)


@dataclass
class Node:
    name: str
    symbol: str | None = None  # an operator, for operation nodes; None for inputs
    inputs: list[str] = field(default_factory=list)
    value: float | None = None
    grad: float | None = None

    @property
    def is_input(self) -> bool:
        return self.symbol is None


@dataclass
class Graph:
    """Nodes in forward order; ``output`` names the node whose gradient the red numbers are."""

    output: str = "L"
    nodes: dict[str, Node] = field(default_factory=dict)

    def var(self, name: str, value: float | None = None, grad: float | None = None) -> Node:
        return self._add(Node(name, None, [], value, grad))

    def op(
        self, name: str, symbol: str, inputs: list[str], value: float | None = None, grad: float | None = None
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

    def set_grads(self, grads: dict[str, float]) -> None:
        for name, grad in grads.items():
            self.nodes[name].grad = grad

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

    def draw(self, ax=None, title: str | None = None) -> Figure:
        pos = self.positions()
        if ax is None:
            width = 2.0 + 2.1 * (max(self.columns().values()) + 1)
            height = 1.2 + 1.5 * max(1, len({y for _, y in pos.values()}))
            fig, ax = plt.subplots(figsize=(width, height))
        else:
            fig = ax.figure
        radius = 0.42
        column = self.columns()
        for node in self.nodes.values():
            for src in node.inputs:
                (x0, y0), (x1, y1) = pos[src], pos[node.name]
                # An edge that skips a column would run through the nodes (and labels) between its ends:
                # bend it outwards, up in the upper half of the drawing and down in the lower half.
                skips = column[node.name] - column[src] > 1
                rad = 0.0 if not skips else (-SKIP_BEND if y0 + y1 >= 0 else SKIP_BEND)
                ax.add_patch(
                    FancyArrowPatch(
                        (x0 + radius, y0),
                        (x1 - radius, y1),
                        arrowstyle="-|>",
                        mutation_scale=14,
                        color="#555555",
                        linewidth=1.3,
                        shrinkA=2,
                        shrinkB=2,
                        connectionstyle=f"arc3,rad={rad}",
                    )
                )
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
                ax.text(x, y, node.symbol, ha="center", va="center", fontsize=14)
            label = node.name
            if node.value is not None:
                ax.text(
                    x,
                    y + radius + 0.12,
                    f"${_tex(label)} = {_number(node.value)}$",
                    ha="center",
                    va="bottom",
                    color=VALUE_COLOUR,
                    fontsize=11,
                )
            if node.grad is not None:
                ax.text(
                    x,
                    y - radius - 0.12,
                    rf"$\partial {_tex(self.output)}/\partial {_tex(label)} = {_number(node.grad)}$",
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
    """A node name as mathtext: ``ŷ`` → ``\\hat{y}``, ``x1`` → ``x_{1}``."""
    for plain, tex in _TEX.items():
        name = name.replace(plain, tex)
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    if tail and head:
        return f"{head}_{{{tail}}}"
    return name.replace("loss", r"\mathrm{loss}")


def _number(value: float) -> str:
    return f"{value:.4g}"
