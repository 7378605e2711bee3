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


# ------------------------------------------------------------------------------------ units 4–6
# Each figure recomputes the numbers it draws from the inputs of its lecture. Labels that need words give
# them in Korean and English, like the plots drawn inside the lectures (Hangul stays outside $…$).

UNIT04_X, UNIT04_Y, UNIT04_LR = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 0.01


def _times_ten(value: float, digits: int = 1) -> str:
    """``value`` in mathtext as m × 10^e."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def unit04_float32_near_two() -> Figure:
    """The float32 numbers near 2, the w at which unit 4's float32 training stops, and its three updates."""
    w = torch.tensor([1.0], requires_grad=True)  # float32, as in the original notebook
    for _ in range(100):
        for x, y in zip(UNIT04_X, UNIT04_Y, strict=True):
            y_pred = x * w
            ((y_pred - y) * (y_pred - y)).backward()
            with torch.no_grad():
                w -= UNIT04_LR * w.grad
            w.grad = None
    stuck = w.detach()[0]
    two = torch.tensor(2.0)
    unit = (two - torch.nextafter(two, torch.tensor(0.0))).item()  # 2^-23, the spacing just below 2
    updates = [(UNIT04_LR * 2 * (x * stuck - y) * x).item() for x, y in zip(UNIT04_X, UNIT04_Y, strict=True)]
    if any((stuck - update).item() != stuck.item() for update in updates):
        raise AssertionError("every update must round back to the stuck w")
    at = (stuck.item() - 2.0) / unit  # the stuck w, in units of 2^-23 from 2

    numbers = [two.item() - k * unit for k in range(6, -1, -1)]
    for _ in range(2):  # above 2 the spacing doubles
        numbers.append(torch.nextafter(torch.tensor(numbers[-1]), torch.tensor(3.0)).item())
    offsets = [(v - 2.0) / unit for v in numbers]

    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.axhline(0, color="black", linewidth=0.8, zorder=1)
    rounds_back = "반올림하면 멈춘 w가 되는 수 (rounds to the stuck w)"
    ax.axvspan(at - 0.5, at + 0.5, color="tab:orange", alpha=0.2, label=rounds_back)
    ax.plot(offsets, [0] * len(offsets), "o", color="black", zorder=2, label="float32 수 (float32 numbers)")
    ax.plot([at], [0], "o", color="tab:red", markersize=11, zorder=3)
    ax.annotate("멈춘 w (stuck w)", xy=(at, 0), xytext=(at, -0.6), ha="center", color="tab:red")
    for height, (x, update) in enumerate(zip(UNIT04_X, updates, strict=True), start=1):
        level = 0.34 * height
        ax.annotate(  # w − update: the update is negative, so w would move up
            "",
            xy=(at - update / unit, level),
            xytext=(at, level),
            arrowprops={"arrowstyle": "->", "color": "tab:blue", "linewidth": 1.8},
        )
        label = rf"$x = {x:g}:\ -\eta\,\partial l/\partial w = {_times_ten(-update)}$"
        ax.text(at + 0.6, level, label, va="center")
    ax.set_xticks(offsets, ["0" if round(k) == 0 else f"{k:+.0f}" for k in offsets])
    ax.set_xlabel(r"$(w - 2)\,/\,2^{-23}$")
    ax.set_yticks([])
    ax.set_ylim(-0.95, 1.55)
    ax.set_xlim(-6.7, 4.7)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        "2 근처의 float32 수와 멈춘 w의 세 갱신 (float32 numbers near 2; the three updates of the stuck w)"
    )
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def unit04_quadratic_contours() -> Figure:
    """Contours of the quadratic model's mean loss over (w1, w2) with b = 0, the path of unit 4's per-sample
    training, and the axes of the ellipses: the eigenvectors of the Hessian, whose condition number is 163."""
    xs, ys = torch.tensor(UNIT04_X, dtype=DTYPE), torch.tensor(UNIT04_Y, dtype=DTYPE)

    def mean_loss(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
        return ((w2[..., None] * xs**2 + w1[..., None] * xs - ys) ** 2).mean(dim=-1)

    w1, w2 = _leaf(1.0), _leaf(1.0)
    path = [(1.0, 1.0)]
    for _ in range(100):
        for x, y in zip(UNIT04_X, UNIT04_Y, strict=True):
            loss = (w2 * x**2 + w1 * x - y) ** 2
            g1, g2 = torch.autograd.grad(loss, [w1, w2])
            with torch.no_grad():
                w1 -= UNIT04_LR * g1
                w2 -= UNIT04_LR * g2
            path.append((w1.item(), w2.item()))
    start = torch.tensor([1.0, 1.0], dtype=DTYPE)
    hessian = torch.autograd.functional.hessian(lambda w: mean_loss(w[0], w[1]), start)
    curvatures, axes = torch.linalg.eigh(hessian)

    across, along = torch.linspace(0.3, 2.4, 400, dtype=DTYPE), torch.linspace(-0.3, 1.15, 300, dtype=DTYPE)
    grid1, grid2 = torch.meshgrid(across, along, indexing="xy")
    fig, ax = plt.subplots(figsize=(8.5, 6.2))
    levels = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30]
    contours = ax.contour(grid1, grid2, mean_loss(grid1, grid2), levels=levels, cmap="viridis", linewidths=1)
    ax.clabel(contours, fmt=lambda level: f"{level:g}", fontsize=8)
    trail = torch.tensor(path, dtype=DTYPE)
    every_update = "원래 학습의 경로: 갱신마다 (path of the original training: every update)"
    ax.plot(trail[:, 0], trail[:, 1], "-", color="tab:red", linewidth=0.8, alpha=0.7, label=every_update)
    ax.plot(trail[3::3, 0], trail[3::3, 1], ".", color="tab:red", label="에폭의 끝 (end of an epoch)")
    ax.plot([1.0], [1.0], "s", color="black", label=r"$(w_1, w_2) = (1, 1)$")
    ax.plot([2.0], [0.0], "*", color="black", markersize=13, label=r"$(w_1, w_2) = (2, 0)$")
    # the axes of the ellipses from (2, 0): the flat one up the valley (left), the steep one across it
    for curvature, axis, length, (dx, dy) in zip(
        curvatures.tolist(), axes.T, (0.55, 0.12), ((0.0, -0.09), (-0.03, -0.03)), strict=True
    ):
        tip = torch.tensor([2.0, 0.0], dtype=DTYPE) - length * axis * (1 if axis[0] > 0 else -1)
        ax.annotate("", xy=tip.tolist(), xytext=(2.0, 0.0), arrowprops={"arrowstyle": "->", "linewidth": 1.5})
        ax.text(tip[0].item() + dx, tip[1].item() + dy, rf"$\lambda = {curvature:.4g}$", ha="right")
    ax.set_aspect("equal")
    ax.set_xlabel(r"$w_1$")
    ax.set_ylabel(r"$w_2$")
    kappa = (curvatures[1] / curvatures[0]).item()
    title = f"이차 모델의 평균 손실, 조건수 {kappa:.0f} "
    title += f"(mean loss of the quadratic model, condition number {kappa:.0f})"
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


FIGURES.update(
    {
        "unit04_float32_near_two.svg": unit04_float32_near_two,
        "unit04_quadratic_contours.svg": unit04_quadratic_contours,
    }
)
