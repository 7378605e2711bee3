"""Backprop you can watch: a graph's forward pass, then its backward pass, one node per frame.

``backprop_frames(graph)`` works the frames out from the graph's own backward rules (see
``Graph.watch``): first one frame per node in the order of the forward pass, each adding that node's
value; then one frame per node in the reverse order, each adding the gradient of the output with respect
to that node, with the chain rule's terms that make it up: for every node that uses it, the upstream
gradient (that node's gradient) times the local gradient of the edge, summed where the graph forks.

``BackpropView`` shows the frames: in JupyterLab as an ipywidgets slider with a play button, the frame
drawn by ``Graph.draw`` with the step highlighted, and the step's equation as text; elsewhere (a static
site, exported HTML, a front-end without ipywidgets) as a static strip of every frame, which it carries
as the HTML and PNG fallback of its output.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from functools import cached_property

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from .graph import GRAD_COLOUR, RADIUS, SHOWN_ENTRIES, VALUE_COLOUR, Graph, Node, _plain
from .messages import render

HIGHLIGHT = "#ff7f0e"  # the node of the step, and the edges its numbers travel along
LOCAL_COLOUR = "#1f77b4"  # local gradients, written on the edges
DPI = 90
STRIP_COLUMNS = 4
STRIP_SCALE = 0.5  # the strip's PNG shows each frame at this fraction of its size in the slider
INFIX = {"+", "-", "−", "×", "*", "/", "·"}


@dataclass(frozen=True)
class Term:
    """One branch of the chain rule at a backward step: what flows back along an edge into the node."""

    consumer: str  # the node that uses the step's node, at the other end of the edge
    upstream: object  # ∂out/∂consumer
    local: object | None  # ∂consumer/∂node (a scalar upstream only; otherwise a Jacobian, not shown)
    product: object  # upstream · local: what flows back along this edge
    slot: int = 0  # which output of the node it reaches (an operation with several outputs: unbind, split)


@dataclass(frozen=True)
class Frame:
    phase: str  # "forward" or "backward"
    node: str  # the node this step computes the value or the gradient of
    step: int  # 1, 2, ... within its phase
    steps: int
    values: dict  # the values known at this step, by node
    grads: dict  # the gradients known at this step, by node
    terms: tuple[Term, ...]  # backward steps: one per edge out of the node (several at a fork)
    equation: str  # the step as plain text: "∂L/∂x = ∂L/∂q · ∂q/∂x = (−2)(1) = −2"

    @property
    def gradient(self) -> object:
        """The gradient this backward step computes (None on a forward step)."""
        return self.grads[self.node] if self.phase == "backward" else None


# ------------------------------------------------------------------------------------------- frames


@dataclass
class _Flow:
    consumer: str
    slot: int
    upstream: tuple
    local: object | None
    product: object


def backprop_frames(graph: Graph, gradient: object = None) -> list[Frame]:
    """The forward frames, then the backward frames, of ``graph`` (made by ``from_tensor``/``from_nodes``)."""
    if not graph.rules:
        raise ValueError(render("watch_no_rules"))
    order = list(graph.nodes)
    frames, values = [], {}
    for step, name in enumerate(order, 1):
        node = graph.nodes[name]
        value = graph.output_value if node.value is None and name == graph.output else node.value
        if value is not None:
            values[name] = value
        equation = _forward_equation(node, values.get(name))
        frames.append(Frame("forward", name, step, len(order), dict(values), {}, (), equation))

    position = {name: i for i, name in enumerate(order)}
    arriving: dict[str, list[_Flow]] = {name: [] for name in order}
    grads: dict[str, object] = {}
    for step, name in enumerate(reversed(order), 1):
        node = graph.nodes[name]
        rule = graph.rules.get(name)
        if not node.is_input and rule is None:
            raise ValueError(render("watch_no_rules"))
        flows = sorted(arriving[name], key=lambda flow: position[flow.consumer])
        total = _start(graph, gradient) if name == graph.output else _total(flows, rule)
        grads[name] = _shown(total)
        terms = tuple(
            Term(f.consumer, _shown(f.upstream), _shown_or_none(f.local), _shown(f.product), f.slot)
            for f in flows
        )
        frames.append(
            Frame(
                "backward",
                name,
                step,
                len(order),
                dict(values),
                dict(grads),
                terms,
                _backward_equation(graph.output, name, terms, grads[name]),
            )
        )
        if not node.is_input:
            pushed = _call(rule, total)
            locals_ = _call(rule, _ones(total)) if _is_scalar(total) else [None] * len(pushed)
            for source, (slot, product), local in zip(node.inputs, pushed, locals_, strict=True):
                local = None if local is None else local[1]
                arriving[source].append(_Flow(name, slot, total, local, product))
    return frames


def _start(graph: Graph, gradient: object) -> tuple:
    """The gradient the backward pass starts from at the output, one per output slot."""
    start = graph.start
    if not isinstance(start, torch.Tensor):
        return (1.0 if gradient is None else gradient,)
    if gradient is not None:
        return (torch.as_tensor(gradient, dtype=start.dtype).expand_as(start).clone(),)
    if start.numel() != 1:
        raise ValueError(render("watch_needs_gradient", node=graph.output, shape=tuple(start.shape)))
    return (torch.ones_like(start.detach()),)


def _total(flows: list[_Flow], rule) -> tuple:
    """The node's gradient, per output slot: the sum of what flows back to it along every edge."""
    slots = getattr(rule, "outputs", None) or [None]
    total = []
    for slot, meta in enumerate(slots):
        parts = [flow.product for flow in flows if flow.slot == slot]
        if parts:
            summed = parts[0]
            for part in parts[1:]:
                summed = summed + part
        else:  # an output of the operation that nothing used
            summed = 0.0 if meta is None else torch.zeros(meta[0], dtype=meta[1])
        total.append(summed)
    return tuple(total)


def _call(rule, upstream: tuple) -> list[tuple[int, object]]:
    try:
        return rule(upstream)
    except RuntimeError as error:
        if "backward through the graph a second time" in str(error) or "freed" in str(error):
            raise ValueError(render("watch_graph_freed", error=str(error).split(". ")[0])) from error
        raise


def _is_scalar(total: tuple) -> bool:
    return len(total) == 1 and (not isinstance(total[0], torch.Tensor) or total[0].numel() == 1)


def _ones(total: tuple) -> tuple:
    return tuple(torch.ones_like(t) if isinstance(t, torch.Tensor) else 1.0 for t in total)


def _shown(value: object) -> object:
    """A number for the frames: a float, or a float64 array; a tuple of them for several output slots."""
    if isinstance(value, tuple):
        return _shown(value[0]) if len(value) == 1 else tuple(_shown(v) for v in value)
    if isinstance(value, torch.Tensor):
        return _plain(value)
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return float(value)


def _shown_or_none(value: object) -> object:
    return None if value is None else _shown(value)


# ---------------------------------------------------------------------------------------- equations


def _number(value: object) -> str:
    """A value as plain text, with a true minus sign: ``−2``, ``[[2, 2], [2, 2]]``, ``(3×4 tensor)``."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_number(v) for v in value) + ")"
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        text = f"{float(array):.4g}"
    elif array.size <= SHOWN_ENTRIES:
        text = _nested(array)
    else:
        return "(" + "×".join(str(n) for n in array.shape) + " tensor)"
    return text.replace("-", "−")


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return f"{float(array):.4g}"
    return "[" + ", ".join(_nested(part) for part in array) + "]"


def _forward_equation(node: Node, value: object) -> str:
    """``ŷ = x × w = 1``; ``y = Add(x) = [[2, 2], [2, 2]]``; ``x = 1``."""
    parts = [node.name]
    if not node.is_input:
        args, symbol = node.inputs, node.symbol
        if len(args) == 2 and symbol in INFIX:
            parts.append(f"{args[0]} {symbol} {args[1]}")
        elif len(args) == 1 and "·" in symbol:
            parts.append(symbol.replace("·", args[0]))
        else:
            parts.append(f"{symbol}({', '.join(args)})")
    if value is not None:
        parts.append(_number(value))
    return " = ".join(parts)


def _backward_equation(output: str, name: str, terms: tuple[Term, ...], total: object) -> str:
    """``∂L/∂x = ∂L/∂q · ∂q/∂x + ∂L/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1``; ``∂L/∂L = 1`` at the output."""
    lhs = f"∂{output}/∂{name}"
    if not terms:
        return f"{lhs} = {_number(total)}"
    if isinstance(total, tuple):  # one equation per output of the operation
        return "; ".join(
            _backward_equation(output, f"{name}[{slot}]", tuple(t for t in terms if t.slot == slot), part)
            for slot, part in enumerate(total)
        )
    symbols = " + ".join(f"∂{output}/∂{t.consumer} · ∂{t.consumer}/∂{name}" for t in terms)
    numbers = " + ".join(
        f"({_number(t.upstream)})({_number(t.local)})"
        if t.local is not None
        else f"({_number(t.upstream)}) · ∂{t.consumer}/∂{name}"
        for t in terms
    )
    return f"{lhs} = {symbols} = {numbers} = {_number(total)}"


def caption(frame: Frame, lang: str | None = None) -> str:
    """What the step does, in ``lang`` (default: as the checker's messages), one line per language."""
    key = "watch_forward" if frame.phase == "forward" else "watch_backward"
    text = render(key, lang, step=frame.step, steps=frame.steps, node=frame.node)
    if len(frame.terms) > 1:
        fork = render("watch_fork", lang, count=len(frame.terms)).splitlines()
        text = "\n".join(f"{line} · {extra}" for line, extra in zip(text.splitlines(), fork, strict=True))
    return text


# ------------------------------------------------------------------------------------------ drawing


def draw_frame(graph: Graph, frame: Frame, ax, lang: str | None = None) -> None:
    """``frame`` on ``ax``: the graph with the values and gradients known at that step, the step's node
    ringed, the edges its numbers travel along in orange (local gradients written on them in blue), the
    caption above and the equation below."""
    shown = Graph(output=graph.output)
    for node in graph.nodes.values():
        grad = frame.grads.get(node.name)
        shown.nodes[node.name] = Node(
            node.name, node.symbol, list(node.inputs), frame.values.get(node.name), grad
        )
    shown.draw(ax=ax)
    pos = shown.positions()
    colour = VALUE_COLOUR if frame.phase == "forward" else GRAD_COLOUR
    if frame.phase == "forward":
        for source in dict.fromkeys(graph.nodes[frame.node].inputs):
            ax.add_patch(shown.edge(source, frame.node, color=HIGHLIGHT, linewidth=2.6))
    else:
        for term in frame.terms:
            ax.add_patch(shown.edge(frame.node, term.consumer, color=HIGHLIGHT, linewidth=2.6))
            ax.add_patch(Circle(pos[term.consumer], RADIUS + 0.16, fill=False, ec=HIGHLIGHT, ls="--", lw=1.6))
            if term.local is not None:
                mx, my = shown.edge_midpoint(frame.node, term.consumer)
                ax.text(
                    mx,
                    my + 0.08,
                    f"∂{term.consumer}/∂{frame.node} = {_number(term.local)}",
                    ha="center",
                    va="bottom",
                    fontsize=10,
                    color=LOCAL_COLOUR,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                    zorder=6,
                )
    ax.add_patch(Circle(pos[frame.node], RADIUS + 0.16, fill=False, ec=HIGHLIGHT, lw=3, zorder=5))
    ax.set_title(caption(frame, lang), fontsize=11)
    ax.text(
        0.5, -0.02, frame.equation, transform=ax.transAxes, ha="center", va="top", fontsize=12, color=colour
    )


def _frame_size(graph: Graph) -> tuple[float, float]:
    columns = max(graph.columns().values()) + 1
    rows = max(1, len({y for _, y in graph.positions().values()}))
    return max(7.5, 2.0 + 2.1 * columns), 2.6 + 1.5 * rows


def _small_png(data: bytes) -> bytes:
    """The PNG with a palette of its own 64 colours: a drawing of a few flat colours, a third the bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=64).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------- view


class BackpropView:
    """The frames of ``Graph.watch()``, shown as a slider (ipywidgets) or as a static strip.

    ``frames`` holds the numbers; ``png(i)`` is frame ``i`` drawn; ``widget`` is the slider's
    ipywidgets box (built on first use); ``strip_html()`` and ``strip_png()`` are the static strip.
    As an output it is the widget, with the strip as its ``text/html`` and ``image/png`` fallback, or
    (``static=True``) the strip alone."""

    def __init__(self, graph: Graph, *, static: bool = False, lang: str | None = None, gradient=None):
        self.graph, self.static, self.lang = graph, static, lang
        self.frames = backprop_frames(graph, gradient)
        self._pngs: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def grads(self) -> dict[str, object]:
        """Every node's gradient, as the last frame shows them."""
        return dict(self.frames[-1].grads)

    # -------------------------------------------------------------------------------- pictures

    def png(self, index: int) -> bytes:
        """Frame ``index`` as a PNG (every frame of a view has the same size)."""
        if index not in self._pngs:
            from .plotting import use_korean_font

            with matplotlib.rc_context():
                use_korean_font()  # the captions' Hangul; restored with the rest of the settings
                fig = Figure(figsize=_frame_size(self.graph))
                ax = fig.add_subplot()
                fig.subplots_adjust(left=0.02, right=0.98, top=0.84, bottom=0.12)
                draw_frame(self.graph, self.frames[index], ax, self.lang)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
            self._pngs[index] = _small_png(buffer.getvalue())
        return self._pngs[index]

    def strip_png(self) -> bytes:
        """Every frame in one PNG, ``STRIP_COLUMNS`` to a row, each at ``STRIP_SCALE`` of its size."""
        from PIL import Image

        images = [Image.open(io.BytesIO(self.png(i))).convert("RGB") for i in range(len(self))]
        width, height = (round(n * STRIP_SCALE) for n in images[0].size)
        columns = min(STRIP_COLUMNS, len(images))
        rows = -(-len(images) // columns)
        sheet = Image.new("RGB", (columns * width, rows * height), "white")
        for i, image in enumerate(images):
            small = image.resize((width, height), Image.Resampling.LANCZOS)
            sheet.paste(small, ((i % columns) * width, (i // columns) * height))
        buffer = io.BytesIO()
        sheet.save(buffer, format="PNG")
        return _small_png(buffer.getvalue())

    def strip_html(self) -> str:
        """Every frame as a small image with its caption and equation as text, in a wrapping grid."""
        cells = []
        for i, frame in enumerate(self.frames):
            data = base64.b64encode(self.png(i)).decode()
            text = html.escape(caption(frame, self.lang)).replace("\n", "<br>")
            cells.append(
                '<figure class="course-watch-frame" style="margin:0">'
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(frame.equation)}" '
                'style="width:100%;height:auto">'
                f'<figcaption style="font-size:0.85em">{text}<br><code>{html.escape(frame.equation)}</code>'
                "</figcaption></figure>"
            )
        return (
            '<div class="course-watch-strip" style="display:grid;'
            'grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:8px">' + "".join(cells) + "</div>"
        )

    def text_html(self, index: int) -> str:
        """The caption and the equation of frame ``index``, as the widget shows them beside the figure."""
        frame = self.frames[index]
        colour = VALUE_COLOUR if frame.phase == "forward" else GRAD_COLOUR
        text = html.escape(caption(frame, self.lang)).replace("\n", "<br>")
        return (
            f'<div class="course-watch-caption">{text}</div>'
            f'<div class="course-watch-equation" style="color:{colour};font-size:1.15em">'
            f"{html.escape(frame.equation)}</div>"
        )

    # ---------------------------------------------------------------------------------- widget

    @cached_property
    def widget(self):
        """The slider (and a play button linked to it in the browser), the frame and its equation."""
        import ipywidgets as widgets

        last = len(self) - 1
        self.slider = widgets.IntSlider(
            value=0, min=0, max=last, step=1, readout=False, layout=widgets.Layout(width="420px")
        )
        self.play = widgets.Play(value=0, min=0, max=last, step=1, interval=1200)
        self.link = widgets.jslink((self.play, "value"), (self.slider, "value"))  # runs in the browser
        from PIL import Image

        width = Image.open(io.BytesIO(self.png(0))).size[0]  # shown at its own size, not stretched
        self.image = widgets.Image(format="png", value=self.png(0), width=f"{width}px")
        self.text = widgets.HTML(value=self.text_html(0))
        self.text.add_class("course-watch-text")

        def show(change: dict) -> None:
            self.image.value = self.png(change["new"])
            self.text.value = self.text_html(change["new"])

        self.slider.observe(show, names="value")
        box = widgets.VBox([widgets.HBox([self.play, self.slider]), self.text, self.image])
        box.add_class("course-watch")
        return box

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {
            "text/plain": f"<BackpropView of {self.graph.output}: {len(self)} frames, forward then backward>",
            "text/html": self.strip_html(),
            "image/png": base64.b64encode(self.strip_png()).decode(),
        }
        if not self.static:
            bundle.update(self.widget._repr_mimebundle_())
        return bundle
