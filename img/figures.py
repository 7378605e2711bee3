"""The figures of the lectures, drawn from numbers that torch computes here (autograd for every gradient).

``FIGURES`` maps a file name to a function returning a matplotlib Figure; the build saves each one as
``img/<name>``. Nothing drawn is typed in by hand except the inputs of each example, which are the same
as in the lecture notebook. Labels are mathematical only, so one figure serves the Korean and the
English lecture.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from autograder.graph import GRAD_COLOUR, SKIP_BEND, Graph

DTYPE = torch.float64
SQUARE = r"$(\cdot)^2$"


def _leaf(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=DTYPE, requires_grad=True)


def _kept(t: torch.Tensor) -> torch.Tensor:
    """An intermediate tensor whose gradient autograd should keep, so that it can be drawn."""
    t.retain_grad()
    return t


# ------------------------------------------------------------------------------------------ unit 1


def unit01_node_graph() -> Figure:
    """Seed 004's neuron: ŷ = x·w, s = ŷ − y, loss = s², at x = 1, w = 1, y = 2."""
    x, w, y = _leaf(1.0), _leaf(1.0), _leaf(2.0)
    y_hat = _kept(x * w)
    s = _kept(y_hat - y)
    loss = _kept(s**2)
    loss.backward()

    g = Graph(output="loss")
    g.var("x", x.item(), grad=x.grad.item())
    g.var("w", w.item(), grad=w.grad.item())
    g.var("y", y.item(), grad=y.grad.item())
    g.op("ŷ", "×", ["x", "w"], value=y_hat.item(), grad=y_hat.grad.item())
    g.op("s", "−", ["ŷ", "y"], value=s.item(), grad=s.grad.item())
    g.op("loss", SQUARE, ["s"], value=loss.item(), grad=loss.grad.item())
    return g.draw()


def unit01_gates() -> Figure:
    """The add, mul and max gates, each handed the same upstream gradient ∂L/∂z from above."""
    upstream = torch.tensor(2.0, dtype=DTYPE)
    gates = [
        (r"$z = x + y$", "+", torch.add, 2.0, -3.0),
        (r"$z = x\,y$", "×", torch.mul, 3.0, -4.0),
        (r"$z = \max(x,\, y)$", "max", torch.maximum, 4.0, 1.5),
    ]
    fig, axes = plt.subplots(1, len(gates), figsize=(13.5, 4.4))
    for ax, (title, symbol, fn, x_value, y_value) in zip(axes, gates, strict=True):
        x, y = _leaf(x_value), _leaf(y_value)
        z = _kept(fn(x, y))
        z.backward(gradient=upstream)

        g = Graph(output="L")
        g.var("x", x.item(), grad=x.grad.item())
        g.var("y", y.item(), grad=y.grad.item())
        g.op("z", symbol, ["x", "y"], value=z.item(), grad=z.grad.item())
        g.draw(ax=ax)
        ax.set_title(title, fontsize=14)
    fig.tight_layout()
    return fig


def unit01_fork() -> Figure:
    """f = x·y + x at x = 3, y = −2: x feeds two edges, and its gradient is the sum of what they bring."""
    x, y = _leaf(3.0), _leaf(-2.0)
    q = _kept(x * y)
    f = _kept(q + x)
    f.backward()
    # What flows back along each edge out of x: upstream gradient × local gradient of that edge's node.
    # The local gradient of the + node with respect to x holds q fixed, so take it on detached copies.
    q_fixed, x_alone = q.detach(), x.detach().requires_grad_()
    (local_direct,) = torch.autograd.grad(q_fixed + x_alone, [x_alone])
    (local_via_q,) = torch.autograd.grad(x_alone * y.detach(), [x_alone])
    via_q = (q.grad * local_via_q).item()
    direct = (f.grad * local_direct).item()
    if via_q + direct != x.grad.item():
        raise AssertionError("the two edges out of x must add up to ∂f/∂x")

    g = Graph(output="f")
    g.var("x", x.item(), grad=x.grad.item())
    g.var("y", y.item(), grad=y.grad.item())
    g.op("q", "×", ["x", "y"], value=q.item(), grad=q.grad.item())
    g.op("f", "+", ["q", "x"], value=f.item(), grad=f.grad.item())
    fig = g.draw()
    ax = fig.axes[0]

    pos, radius = g.positions(), 0.42
    (x0, y0), (xq, yq), (xf, yf) = pos["x"], pos["q"], pos["f"]
    # Edge x → q is straight: label it just above its midpoint, inside the wedge below the curved edge.
    mx, my = (x0 + radius + xq - radius) / 2, (y0 + yq) / 2
    ax.text(
        mx + 0.05,
        my + 0.12,
        rf"$\leftarrow {_signed(via_q)}$",
        color=GRAD_COLOUR,
        fontsize=12,
        ha="left",
        va="bottom",
    )
    # Edge x → f skips a column, so Graph.draw bends it upwards (an arc3 curve with rad = -SKIP_BEND, as it
    # lies in the upper half). The midpoint of that quadratic Bézier is halfway to its control point.
    (ax0, ay0), (ax1, ay1) = (x0 + radius, y0), (xf - radius, yf)
    top_x = (ax0 + ax1) / 2 - SKIP_BEND / 2 * (ay1 - ay0)
    top_y = (ay0 + ay1) / 2 + SKIP_BEND / 2 * (ax1 - ax0)
    ax.text(
        top_x,
        top_y + 0.12,
        rf"$\leftarrow {_signed(direct)}$",
        color=GRAD_COLOUR,
        fontsize=12,
        ha="center",
        va="bottom",
    )
    ax.set_ylim(ax.get_ylim()[0], max(ax.get_ylim()[1], top_y + 0.8))
    return fig


def _signed(value: float) -> str:
    return "{" + f"{value:+.4g}" + "}"  # braced, so that mathtext keeps the sign on the number


# ------------------------------------------------------------------------------------------ unit 2


def unit02_seed000_graph() -> Figure:
    """Seeds 000/001 as autograd records them: x = ones(2, 2), y = x + 1, z = 2y², obj = mean(z) = 8."""
    x = torch.ones(2, 2, dtype=DTYPE, requires_grad=True)
    y = _kept(x + 1)
    z = _kept(2 * y**2)
    obj = _kept(z.mean())
    obj.backward()
    return Graph.from_tensor(obj, x=x, y=y, z=z, obj=obj).draw()


def unit02_seed003_graph() -> Figure:
    """Seed 003: a = [2, 3], b = a + 1, c = b², d = 2c, obj = mean(d) = 25, a.grad = [6, 8]."""
    a = torch.tensor([2.0, 3.0], dtype=DTYPE, requires_grad=True)
    b = _kept(a + 1)
    c = _kept(b**2)
    d = _kept(2 * c)
    obj = _kept(d.mean())
    obj.backward()
    return Graph.from_tensor(obj, a=a, b=b, c=c, d=d, obj=obj).draw()


FIGURES: dict[str, Callable[[], Figure]] = {
    "unit01_node_graph.svg": unit01_node_graph,
    "unit01_gates.svg": unit01_gates,
    "unit01_fork.svg": unit01_fork,
    "unit02_seed000_graph.svg": unit02_seed000_graph,
    "unit02_seed003_graph.svg": unit02_seed003_graph,
}
