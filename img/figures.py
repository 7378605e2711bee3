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


def unit02_second_example_graph() -> Figure:
    """Seed 003: a = [2, 3], b = a + 1, c = b², d = 2c, obj = mean(d) = 25, a.grad = [6, 8]."""
    a = torch.tensor([2.0, 3.0], dtype=DTYPE, requires_grad=True)
    b = _kept(a + 1)
    c = _kept(b**2)
    d = _kept(2 * c)
    obj = _kept(d.mean())
    obj.backward()
    return Graph.from_tensor(obj, a=a, b=b, c=c, d=d, obj=obj).draw()


# ---------------------------------------------------------------------------- units 2 and 3 (issue 20)

HOOK_COLOUR = "#1f5fbf"


def unit02_jacobian_rows() -> Figure:
    """Unit 2, Section 6: y = (x1·x2, x2² + x3) at x = (1, 2, 3); the VJP with eᵢ is row i of J."""
    x = torch.tensor([1.0, 2.0, 3.0], dtype=DTYPE, requires_grad=True)
    y = torch.stack([x[0] * x[1], x[1] ** 2 + x[2]])
    basis = torch.eye(y.numel(), dtype=DTYPE)
    rows = [torch.autograd.grad(y, x, grad_outputs=e, retain_graph=True)[0] for e in basis]
    jacobian = torch.stack(rows)

    fig, axes = plt.subplots(1, len(rows), figsize=(6.2 * len(rows), 2.6))
    for i, ax in enumerate(axes):
        _matrix(ax, basis[i : i + 1], left=0.0, top=0.5, picked=[(0, i)])
        ax.text(0.0 + 1.0, 1.25, rf"$\mathbf{{e}}_{{{i + 1}}}^\top$", ha="center", fontsize=14)
        ax.text(2.45, -0.5, r"$\cdot$", ha="center", va="center", fontsize=22)
        _matrix(ax, jacobian, left=3.0, top=1.0, picked=[(i, j) for j in range(jacobian.shape[1])])
        ax.text(3.0 + 1.5, 1.5 + 0.25, r"$J$", ha="center", fontsize=14)
        ax.text(6.55, -0.5, r"$=$", ha="center", va="center", fontsize=16)
        _matrix(ax, rows[i][None], left=7.1, top=0.5, picked=[(0, j) for j in range(jacobian.shape[1])])
        ax.text(7.1 + 1.5, 1.25, rf"$\mathbf{{e}}_{{{i + 1}}}^\top J$", ha="center", fontsize=14)
        ax.set_xlim(-0.3, 10.4)
        ax.set_ylim(-1.3, 2.0)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def _matrix(ax, values: torch.Tensor, left: float, top: float, picked: list[tuple[int, int]]) -> None:
    """A matrix as a grid of unit cells, its top-left corner at (left, top); picked cells shaded."""
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            x0, y0 = left + c, top - r - 1
            shaded = (r, c) in picked
            ax.add_patch(
                plt.Rectangle((x0, y0), 1, 1, facecolor="#fde0dd" if shaded else "white", edgecolor="#555555")
            )
            colour = GRAD_COLOUR if shaded else "#333333"
            ax.text(
                x0 + 0.5,
                y0 + 0.5,
                f"{values[r, c].item():g}",
                ha="center",
                va="center",
                color=colour,
                fontsize=13,
            )


def unit03_fork_hooks() -> Figure:
    """Unit 3, Section 5: a = x, b = x (two clones), f = sin a + b² at x = 0.5, with a hook on x, a and b.

    Each hook records the gradient that reaches its tensor; the blue formula beside a node is what its hook
    received, and the figure checks that the hook on x received the sum of the two paths."""
    x = _leaf(0.5)
    a, b = _kept(x.clone()), _kept(x.clone())
    s, q = _kept(torch.sin(a)), _kept(b**2)
    f = _kept(s + q)
    seen: dict[str, float] = {}
    for name, tensor in (("x", x), ("a", a), ("b", b)):
        tensor.register_hook(lambda grad, name=name: seen.__setitem__(name, grad.item()))
    f.backward()
    if abs(seen["x"] - (seen["a"] + seen["b"])) > 1e-12 or seen["b"] != 2 * x.item():
        raise AssertionError("the hook on x must receive the sum of what the hooks on a and b received")

    graph = Graph.from_tensor(f, x=x, a=a, b=b, s=s, q=q, f=f)
    fig = graph.draw()
    ax = fig.axes[0]
    pos, radius = graph.positions(), 0.42
    formulas = {"x": r"\cos x + 2x", "a": r"\cos x", "b": r"2x"}
    for name, formula in formulas.items():
        cx, cy = pos[name]
        ax.add_patch(
            plt.Circle(
                (cx, cy), radius + 0.13, fill=False, edgecolor=HOOK_COLOUR, linestyle="--", linewidth=1.6
            )
        )
        ax.text(
            cx - radius - 0.25,
            cy + (0.0 if name == "x" else 0.55 if cy > 0 else -0.55),
            f"${formula}$",
            color=HOOK_COLOUR,
            fontsize=11,
            ha="right",
            va="center",
        )
    ax.set_xlim(ax.get_xlim()[0] - 1.6, ax.get_xlim()[1])
    return fig


def unit03_version_counter() -> Figure:
    """Unit 3, Section 4: the version counter over time, for a saved tensor (h) and an unsaved one (c).

    h = σ(a) is saved by SigmoidBackward0 at version 0, h.mul_(2) makes it version 1, and backward()
    compares the two and refuses; c = a + 1 is saved by nobody, so the same edit leaves backward() free.
    Every version shown is read from ``_version`` or from PyTorch's error message."""
    import re

    from autograder.graph import VALUE_COLOUR

    a = torch.tensor([0.5, -1.0], dtype=DTYPE, requires_grad=True)
    rows = []
    for name, make in (("h", torch.sigmoid), ("c", lambda t: t + 1)):
        t = make(a)
        node, created = type(t.grad_fn).__name__, t._version  # before the edit, which records a new node
        t.mul_(2)
        edited = t._version
        try:
            t.sum().backward()
            outcome, saved = "works", None
        except RuntimeError as error:
            found = re.search(r"is at version (\d+); expected version (\d+)", str(error))
            outcome, saved = "raises", int(found.group(2))
            if int(found.group(1)) != edited:
                raise AssertionError("the message must name the version the tensor is at") from error
        rows.append((name, node, created, edited, saved, outcome))
    if [row[-1] for row in rows] != ["raises", "works"]:
        raise AssertionError("only the saved tensor may stop backward()")

    fig, ax = plt.subplots(figsize=(11.5, 4.6))
    steps = [0.0, 4.2, 8.4]
    code = {"family": "monospace", "fontsize": 11}
    for row, (name, node, created, edited, saved, _outcome) in enumerate(rows):
        y = 1.6 - 2.4 * row
        ax.annotate(
            "",
            xy=(steps[-1] + 1.9, y),
            xytext=(steps[0] - 1.9, y),
            arrowprops={"arrowstyle": "-|>", "color": "#999999", "linewidth": 1.2},
        )
        made = f"{name} = torch.sigmoid(a)" if name == "h" else f"{name} = a + 1"
        events = [made, f"{name}.mul_(2)", f"{name}.sum().backward()"]
        for x, event in zip(steps, events, strict=True):
            ax.plot([x], [y], "o", color="#555555")
            ax.text(x, y + 0.28, event, ha="center", va="bottom", **code)
        ax.text(
            steps[0],
            y - 0.3,
            f"{name}._version = {created}",
            ha="center",
            va="top",
            color=VALUE_COLOUR,
            **code,
        )
        ax.text(
            steps[1],
            y - 0.3,
            f"{name}._version = {edited}",
            ha="center",
            va="top",
            color=VALUE_COLOUR,
            **code,
        )
        if saved is None:
            ax.text(steps[0], y - 0.75, f"{node}: —", ha="center", va="top", color="#555555", **code)
            ax.text(steps[2], y - 0.3, "✓", ha="center", va="top", color=VALUE_COLOUR, fontsize=18)
        else:
            ax.text(
                steps[0],
                y - 0.75,
                f"{node}: ({name}, {saved})",
                ha="center",
                va="top",
                color=HOOK_COLOUR,
                **code,
            )
            ax.text(
                steps[2],
                y - 0.3,
                f"${edited} \\neq {saved}$",
                ha="center",
                va="top",
                color=GRAD_COLOUR,
                fontsize=14,
            )
            ax.text(steps[2], y - 0.8, "RuntimeError", ha="center", va="top", color=GRAD_COLOUR, **code)
    ax.set_xlim(steps[0] - 2.2, steps[-1] + 2.2)
    ax.set_ylim(-2.0, 2.4)
    ax.axis("off")
    return fig


def unit03_dynamic_graphs() -> Figure:
    """Unit 3, Section 6: halve x until |x| ≤ 1, then cube. x = 0.7 records one node, x = 5 three more."""
    fig, axes = plt.subplots(1, 2, figsize=(14.0, 3.4), gridspec_kw={"width_ratios": [2, 5]})
    for ax, value in zip(axes, (0.7, 5.0), strict=True):
        x = _leaf(value)
        halves, t = {}, x
        while t.abs() > 1:  # the lecture's loop, with every halving kept so that it can be drawn
            t = _kept(t / 2)
            halves[f"h{len(halves) + 1}"] = t
        f = _kept(t**3)
        f.backward()
        Graph.from_tensor(f, x=x, **halves, f=f).draw(ax=ax)
        ax.set_title(rf"$x = {value:g}$", fontsize=14)
    fig.tight_layout()
    return fig


def unit03_where_branches() -> Figure:
    """Unit 3, Section 9: both branches of torch.where at x = 0, where the condition x > 0 is false.

    Left, torch.where(x > 0, sqrt(x), 0): the branch not taken, sqrt, gets the gradient 0 and turns it into
    0 / (2·0) = NaN. Right, the input picked first: sqrt sees 1 instead of 0, and the 0 stays 0."""
    fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.2), gridspec_kw={"width_ratios": [3, 4]})

    x = _leaf(0.0)
    root = _kept(torch.sqrt(x))
    y = _kept(torch.where(x > 0, root, 0.0))
    y.backward()
    g = Graph(output="y")
    g.var("x", x.item(), grad=x.grad.item())
    g.var("c", 0.0)
    g.op("s", "√", ["x"], value=root.item(), grad=root.grad.item())
    g.op("y", "where", ["s", "c"], value=y.item(), grad=y.grad.item())
    g.draw(ax=axes[0])
    axes[0].set_title("torch.where(x > 0, torch.sqrt(x), 0.0)", family="monospace", fontsize=11)

    x = _leaf(0.0)
    inside = _kept(torch.where(x > 0, x, 1.0))
    root = _kept(torch.sqrt(inside))
    y = _kept(torch.where(x > 0, root, 0.0))
    y.backward()
    g = Graph(output="y")
    g.var("x", x.item(), grad=x.grad.item())
    g.var("c1", 1.0)
    g.op("u", "where", ["x", "c1"], value=inside.item(), grad=inside.grad.item())
    g.var("c0", 0.0)
    g.op("s", "√", ["u"], value=root.item(), grad=root.grad.item())
    g.op("y", "where", ["s", "c0"], value=y.item(), grad=y.grad.item())
    g.draw(ax=axes[1])
    axes[1].set_title(
        "u = torch.where(x > 0, x, 1.0);  torch.where(x > 0, torch.sqrt(u), 0.0)",
        family="monospace",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[], Figure]] = {
    "unit01_node_graph.svg": unit01_node_graph,
    "unit01_gates.svg": unit01_gates,
    "unit01_fork.svg": unit01_fork,
    "unit02_second_example_graph.svg": unit02_second_example_graph,
    "unit02_jacobian_rows.svg": unit02_jacobian_rows,
    "unit03_fork_hooks.svg": unit03_fork_hooks,
    "unit03_version_counter.svg": unit03_version_counter,
    "unit03_dynamic_graphs.svg": unit03_dynamic_graphs,
    "unit03_where_branches.svg": unit03_where_branches,
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


def unit06_network() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Unit 6's two-layer network, N, D, K, C = 6, 4, 5, 3, from the lecture's generator: X, y, weights."""
    n, d, k, c = 6, 4, 5, 3
    g = torch.Generator().manual_seed(5)
    X = torch.randn(n, d, generator=g, dtype=DTYPE)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    shapes = (("W1", (d, k)), ("b1", (k,)), ("W2", (k, c)), ("b2", (c,)))
    return X, y, {name: torch.randn(*shape, generator=g, dtype=DTYPE) for name, shape in shapes}


def unit06_training(steps: int = 100, lr: float = 0.5) -> tuple[list[float], list[float]]:
    """Unit 6's training: gradient descent with the backward pass written by hand, and the same with autograd.
    Returns the loss before every update, for each."""
    X, y, start = unit06_network()
    n, c = len(y), start["b2"].numel()
    hand = {name: t.clone() for name, t in start.items()}
    auto = {name: t.clone().requires_grad_() for name, t in start.items()}
    optimizer = torch.optim.SGD(auto.values(), lr=lr)
    losses_hand, losses_auto = [], []
    for _ in range(steps):
        H = X @ hand["W1"] + hand["b1"]
        A = torch.relu(H)
        Z = A @ hand["W2"] + hand["b2"]
        losses_hand.append(torch.nn.functional.cross_entropy(Z, y).item())
        dZ = (torch.softmax(Z, dim=1) - torch.nn.functional.one_hot(y, c).to(DTYPE)) / n
        dH = (dZ @ hand["W2"].T) * (H > 0)
        grads = {"W2": A.T @ dZ, "b2": dZ.sum(dim=0), "W1": X.T @ dH, "b1": dH.sum(dim=0)}
        for name, grad in grads.items():
            hand[name] -= lr * grad

        optimizer.zero_grad()
        Z_auto = torch.relu(X @ auto["W1"] + auto["b1"]) @ auto["W2"] + auto["b2"]
        loss = torch.nn.functional.cross_entropy(Z_auto, y)
        loss.backward()
        optimizer.step()
        losses_auto.append(loss.item())
    return losses_hand, losses_auto


def unit06_training_curve() -> Figure:
    """The loss of unit 6's two-layer network over 100 updates: hand-written backward and autograd."""
    hand, auto = unit06_training()
    if max(abs(a - b) for a, b in zip(hand, auto, strict=True)) > 1e-12:
        raise AssertionError("the hand-written backward pass must train exactly as autograd does")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    steps = range(len(hand))
    ax.semilogy(steps, auto, "-", color="tab:blue", label="자동 미분, nn.Module (autograd, nn.Module)")
    ax.semilogy(
        steps[::4],
        hand[::4],
        "o",
        color="tab:red",
        markersize=4,
        label="손으로 쓴 backward (backward by hand)",
    )
    ax.set_xlabel("갱신 (update)")
    ax.set_ylabel("평균 교차 엔트로피 (mean cross-entropy)")
    ax.set_title("2층 신경망의 학습 곡선 (training curve of the two-layer network)")
    ax.legend()
    fig.tight_layout()
    return fig


def _shape_box(ax, left: float, tensor: torch.Tensor, name: str, colour: str, unit: float = 0.32) -> float:
    """``tensor`` drawn as a grid of cells, one per entry (a vector as one row), its bottom edge at y = 0,
    named above and with its shape below; returns its right edge."""
    from matplotlib.patches import Rectangle

    rows, cols = (1, tensor.shape[0]) if tensor.dim() == 1 else tuple(tensor.shape)
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                Rectangle(
                    (left + j * unit, (rows - 1 - i) * unit),
                    unit,
                    unit,
                    facecolor=colour,
                    edgecolor="white",
                    linewidth=1.2,
                    alpha=0.85,
                )
            )
    ax.text(left + cols * unit / 2, rows * unit + 0.12, name, ha="center", va="bottom", fontsize=13)
    shape = f"({tensor.shape[0]},)" if tensor.dim() == 1 else f"({rows}, {cols})"
    ax.text(left + cols * unit / 2, -0.14, shape, ha="center", va="top", fontsize=10, color="dimgray")
    return left + cols * unit


def unit06_two_layer_shapes() -> Figure:
    """Every product of unit 6's two-layer network, forward and backward, with matrices drawn to their shapes
    (read off the tensors autograd computes)."""
    X, y, start = unit06_network()
    params = {name: t.clone().requires_grad_() for name, t in start.items()}
    H = _kept(X @ params["W1"] + params["b1"])
    A = _kept(torch.relu(H))
    Z = _kept(A @ params["W2"] + params["b2"])
    torch.nn.functional.cross_entropy(Z, y).backward()
    forward_colour, backward_colour = "#7fa7d6", GRAD_COLOUR
    equations = [  # (row label, [(name, tensor, the sign after it)])
        (
            "순전파 (forward)",
            [(r"$H$", H, "="), (r"$X$", X, "·"), (r"$W_1$", params["W1"], "+"), (r"$b_1$", params["b1"], "")],
        ),
        (
            "",
            [(r"$Z$", Z, "="), (r"$A$", A, "·"), (r"$W_2$", params["W2"], "+"), (r"$b_2$", params["b2"], "")],
        ),
        (
            "역전파 (backward)",
            [
                (r"$\mathrm{d}W_2$", params["W2"].grad, "="),
                (r"$A^\top$", A.T, "·"),
                (r"$\mathrm{d}Z$", Z.grad, ""),
            ],
        ),
        (
            "",
            [
                (r"$\mathrm{d}A$", A.grad, "="),
                (r"$\mathrm{d}Z$", Z.grad, "·"),
                (r"$W_2^\top$", params["W2"].T, ""),
            ],
        ),
        (
            "",
            [
                (r"$\mathrm{d}W_1$", params["W1"].grad, "="),
                (r"$X^\top$", X.T, "·"),
                (r"$\mathrm{d}H$", H.grad, ""),
            ],
        ),
    ]
    fig, axes = plt.subplots(len(equations), 1, figsize=(9.5, 11))
    for ax, (label, terms) in zip(axes, equations, strict=True):
        left = 0.0
        for name, tensor, after in terms:
            is_gradient = name.startswith(r"$\mathrm{d}")
            left = _shape_box(ax, left, tensor, name, backward_colour if is_gradient else forward_colour)
            if after:
                ax.text(left + 0.3, 3 * 0.32 / 2, after, ha="center", va="center", fontsize=18)
                left += 0.6
        ax.text(-0.5, 1.0, label, ha="right", va="center", fontsize=12)
        ax.set_xlim(-3.2, 8.6)
        ax.set_ylim(-0.5, 2.5)
        ax.set_aspect("equal")
        ax.axis("off")
    sizes = f"N, D, K, C = {X.shape[0]}, {X.shape[1]}, {H.shape[1]}, {Z.shape[1]}"
    fig.suptitle(f"2층 신경망의 모양: {sizes} (shapes of the two-layer network)", fontsize=13)
    fig.tight_layout()
    return fig


FIGURES.update(
    {
        "unit04_float32_near_two.svg": unit04_float32_near_two,
        "unit04_quadratic_contours.svg": unit04_quadratic_contours,
        "unit06_two_layer_shapes.svg": unit06_two_layer_shapes,
        "unit06_training_curve.svg": unit06_training_curve,
    }
)
