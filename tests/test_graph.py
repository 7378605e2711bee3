"""The graph drawer: layout from edges, values and gradients written on every node."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from autograder.graph import Graph, _equation, operation_label  # noqa: E402
from autograder.watch import caption  # noqa: E402


def seed004_graph():
    g = Graph(output="loss")
    g.var("x", 1.0, -2.0)
    g.var("w", 1.0, -2.0)
    g.var("y", 2.0, 2.0)
    g.op("ŷ", "×", ["x", "w"], 1.0, -2.0)
    g.op("s", "−", ["ŷ", "y"], -1.0, -2.0)
    g.op("loss", "(·)²", ["s"], 1.0, 1.0)
    return g


def test_columns_follow_the_longest_path():
    assert seed004_graph().columns() == {"x": 0, "w": 0, "y": 0, "ŷ": 1, "s": 2, "loss": 3}


def test_no_two_nodes_share_a_place():
    pos = seed004_graph().positions()
    assert len(set(pos.values())) == len(pos)


def test_every_value_and_gradient_is_written():
    fig = seed004_graph().draw()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert r"$\partial \mathrm{loss}/\partial w = -2$" in texts
    assert r"$\hat{y} = 1$" in texts and "$s = -1$" in texts
    assert sum("partial" in t for t in texts) == 6


def test_unknown_input_and_duplicate_names_are_refused():
    g = Graph()
    g.var("x")
    with pytest.raises(KeyError, match="not yet in the graph"):
        g.op("f", "+", ["x", "z"])
    with pytest.raises(KeyError, match="already"):
        g.var("x")


# ------------------------------------------------------------------------ Graph.from_tensor (unit 2)


def seed000(retain=True):
    """Seeds 000/001: x = ones(2, 2), y = x + 1, z = 2y², obj = mean(z), after obj.backward()."""
    x = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    y = x + 1
    z = 2 * y**2
    obj = z.mean()
    if retain:
        for t in (y, z, obj):
            t.retain_grad()
    obj.backward()
    return x, y, z, obj


def edges(g):
    return sorted((src, node.name) for node in g.nodes.values() for src in node.inputs)


def test_from_tensor_reads_the_recorded_graph():
    x, y, z, obj = seed000()
    g = Graph.from_tensor(obj, x=x, y=y, z=z, obj=obj)
    # one node per recorded operation, in forward order; y**2 has no Python name, so its node has none
    assert [(n.name, n.symbol) for n in g.nodes.values()] == [
        ("x", None),
        ("y", "Add"),
        ("Pow#2", "Pow"),
        ("z", "Mul"),
        ("obj", "Mean"),
    ]
    # the constants 1 and 2 need no gradient: None in next_functions, so not nodes
    assert edges(g) == sorted([("x", "y"), ("y", "Pow#2"), ("Pow#2", "z"), ("z", "obj")])
    assert g.output == "obj" and g.columns()["obj"] == 4


def test_from_tensor_puts_values_and_gradients_on_named_nodes():
    x, y, z, obj = seed000()
    g = Graph.from_tensor(obj, x=x, y=y, z=z, obj=obj)
    assert g.nodes["obj"].value == 8.0 and g.nodes["obj"].grad == 1.0
    assert np.array_equal(g.nodes["x"].value, np.ones((2, 2)))
    assert np.array_equal(g.nodes["x"].grad, np.full((2, 2), 2.0))  # the seeds' x.grad
    assert np.array_equal(g.nodes["y"].value, np.full((2, 2), 2.0))
    assert np.array_equal(g.nodes["z"].grad, np.full((2, 2), 0.25))
    assert g.nodes["Pow#2"].value is None and g.nodes["Pow#2"].grad is None
    texts = [t.get_text() for t in g.draw().axes[0].texts]
    assert "$x = [[1,1],[1,1]]$" in texts
    assert r"$\partial \mathrm{obj}/\partial x = [[2,2],[2,2]]$" in texts
    assert r"$\mathrm{obj} = 8$" in texts and "Mean" in texts and "Pow" in texts


def test_from_tensor_without_retain_grad_shows_no_gradient_and_no_warning():
    x, y, z, obj = seed000(retain=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading .grad of a non-leaf would warn
        g = Graph.from_tensor(obj, x=x, y=y, obj=obj)
    assert g.nodes["y"].grad is None and g.nodes["obj"].grad is None
    assert np.array_equal(g.nodes["x"].grad, np.full((2, 2), 2.0))


def test_a_shared_input_is_one_node_with_two_out_edges():
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
    q = x * y
    f = q + x
    g = Graph.from_tensor(f, x=x, y=y, q=q, f=f)
    assert list(g.nodes) == ["x", "y", "q", "f"]
    assert [src for n in g.nodes.values() for src in n.inputs].count("x") == 2
    assert edges(g) == sorted([("x", "q"), ("y", "q"), ("q", "f"), ("x", "f")])
    square = x * x  # both inputs of the multiplication are the same leaf
    assert [n.inputs for n in Graph.from_tensor(square, x=x).nodes.values()] == [[], ["x", "x"]]


def test_unnamed_leaves_are_numbered_and_show_their_values():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    c = torch.tensor([5.0, 6.0])  # needs no gradient: not in the graph
    out = (a * b + c).sum()
    g = Graph.from_tensor(out, t1=b)
    leaves = [n for n in g.nodes.values() if n.is_input]
    assert sorted(n.name for n in leaves) == ["t1", "t2"]
    assert np.array_equal(g.nodes["t1"].value, [3.0, 4.0]) and np.array_equal(g.nodes["t2"].value, [1.0, 2.0])
    assert [n.symbol for n in g.nodes.values() if not n.is_input] == ["Mul", "Add", "Sum"]
    assert g.output == "L"


def test_from_tensor_refuses_what_is_not_in_the_graph():
    x = torch.tensor(2.0, requires_grad=True)
    constant = torch.tensor(5.0)
    out = x * constant
    with pytest.raises(ValueError, match="'constant' is not in the graph"):
        Graph.from_tensor(out, constant=constant)
    with pytest.raises(ValueError, match="no grad_fn"):
        Graph.from_tensor(x, x=x)
    with pytest.raises(ValueError, match="name the same node"):
        Graph.from_tensor(out, a=out, b=out)


def test_operation_labels():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    assert operation_label((x - 1).grad_fn) == "Sub"
    assert operation_label(x.exp().grad_fn) == "Exp"
    assert operation_label(x.sum().grad_fn) == "Sum"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-2.0, "x = -2"),
        (np.float64(0.25), "x = 0.25"),
        ([2.0, 3.0], "x = [2,3]"),
        (torch.tensor([[2.0, 2.0], [2.0, 2.0]]), "x = [[2,2],[2,2]]"),
        (np.full((3, 4), 2.0), r"x = 2\cdot\mathbf{1}_{3\times 4}"),
        (np.arange(6.0).reshape(2, 3), r"x \in \mathbb{R}^{2\times 3}"),
    ],
)
def test_small_tensors_are_written_out_larger_ones_by_shape(value, text):
    assert _equation("x", value) == text


class _Node:
    """A node of a tiny engine of one's own: data, grad, parents, op."""

    def __init__(self, data, parents=(), op="", grad=0.0):
        self.data, self.parents, self.op, self.grad = data, tuple(parents), op, grad


def test_from_nodes_reads_any_engine_with_parents():
    x, w, y = _Node(1.0, grad=-2.0), _Node(1.0, grad=-2.0), _Node(2.0, grad=2.0)
    y_hat = _Node(1.0, (x, w), "*", -2.0)
    s = _Node(-1.0, (y_hat, y), "-", -2.0)
    loss = _Node(1.0, (s,), "**2", 1.0)
    g = Graph.from_nodes(
        loss, symbols={"*": "×", "-": "−", "**2": "(·)²"}, x=x, w=w, y=y, ŷ=y_hat, s=s, loss=loss
    )
    assert g.output == "loss"

    def described(graph):
        return {n.name: (n.symbol, n.inputs, n.value, n.grad) for n in graph.nodes.values()}

    assert described(g) == described(seed004_graph())
    assert g.columns() == seed004_graph().columns()


def test_from_nodes_draws_a_node_used_twice_once_and_names_the_rest():
    a = _Node(3.0, grad=7.0)
    square = _Node(9.0, (a, a), "*", 1.0)
    out = _Node(12.0, (square, a), "+", 1.0)
    g = Graph.from_nodes(out, grad=None)
    assert list(g.nodes) == ["t1", "n1", "L"]
    assert g.nodes["n1"].inputs == ["t1"] and g.nodes["L"].inputs == ["n1", "t1"]
    g.draw()  # every default name is valid mathtext
    assert all(n.grad is None for n in g.nodes.values())
    chain = a
    for _ in range(3000):  # no recursion limit
        chain = _Node(chain.data + 1, (chain,), "+1")
    assert len(Graph.from_nodes(chain).nodes) == 3001
    with pytest.raises(ValueError, match="not in the graph"):
        Graph.from_nodes(out, stray=_Node(0.0))


# ------------------------------------------------------------------------- Graph.watch(): step by step

D = torch.float64


def leaf(value):
    return torch.tensor(value, dtype=D, requires_grad=True)


def seed004_tensors():
    x, w, y = leaf(1.0), leaf(1.0), leaf(2.0)
    y_hat = x * w
    s = y_hat - y
    loss = s**2
    return {"x": x, "w": w, "y": y, "ŷ": y_hat, "s": s, "loss": loss}


def fork_tensors():
    x, y = leaf(3.0), leaf(-2.0)
    q = x * y
    return {"x": x, "y": y, "q": q, "f": q + x}


def seed000_tensors():
    x = torch.ones(2, 2, dtype=D, requires_grad=True)
    y = x + 1
    z = 2 * y**2
    return {"x": x, "y": y, "z": z, "obj": z.mean()}


def broadcast_tensors():
    """A row vector times a scalar, summed with the vector itself and squared: a fork and a broadcast."""
    v = torch.tensor([0.5, -1.25, 2.0], dtype=D, requires_grad=True)
    k = leaf(-0.75)
    scaled = v * k
    both = scaled + v.exp()
    return {"v": v, "k": k, "scaled": scaled, "both": both, "out": (both**2).sum()}


def square_tensors():
    """x · x: one operation whose two inputs are the same leaf."""
    x = leaf(1.7)
    sq = x * x
    return {"x": x, "sq": sq, "out": sq.sin()}


def unbind_tensors():
    """An operation with two outputs (unbind), each used once."""
    v = torch.tensor([1.5, -0.5], dtype=D, requires_grad=True)
    first, second = v.unbind()
    return {"v": v, "out": first * 3.0 + second**2}


def vector_output_tensors():
    a = torch.tensor([2.0, 3.0], dtype=D, requires_grad=True)
    b = a + 1
    return {"a": a, "b": b, "c": b**2}


def autograd_grads(tensors, output, gradient=None):
    """torch.autograd's gradient of ``output`` with respect to each named tensor."""
    names = list(tensors)
    found = torch.autograd.grad(
        tensors[output], [tensors[n] for n in names], grad_outputs=gradient, retain_graph=True
    )
    return {name: g.detach().numpy() for name, g in zip(names, found, strict=True)}


def as64(value):
    """A frame's number (a float, an array, a tuple of them) as a float64 tensor, to compare."""
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def assert_frames_follow_autograd(view, reference):
    """Every backward frame: its gradient is autograd's; each term is upstream × local; a fork sums."""
    backward = [f for f in view.frames if f.phase == "backward"]
    assert [f.node for f in backward] == list(reversed(view.graph.nodes))
    for frame in backward:
        if frame.node in reference:
            torch.testing.assert_close(as64(frame.gradient), as64(reference[frame.node]))
        for term in frame.terms:
            # the upstream of each term is the consumer's gradient, shown in an earlier frame
            torch.testing.assert_close(as64(term.upstream), as64(frame.grads[term.consumer]))
            if term.local is not None:
                torch.testing.assert_close(
                    as64(term.product),
                    as64(term.upstream) * as64(term.local),
                )
        # at a fork, the sum of what every branch brings (per output, for an operation with several)
        slots = frame.gradient if isinstance(frame.gradient, tuple) else (frame.gradient,)
        for slot, gradient in enumerate(slots):
            products = [as64(t.product) for t in frame.terms if t.slot == slot]
            if products:
                torch.testing.assert_close(as64(gradient), sum(products))
    assert view.grads() == backward[-1].grads and set(view.grads()) == set(view.graph.nodes)


@pytest.mark.parametrize(
    ("make", "output"),
    [
        (seed004_tensors, "loss"),
        (fork_tensors, "f"),
        (seed000_tensors, "obj"),
        (broadcast_tensors, "out"),
        (square_tensors, "out"),
        (unbind_tensors, "out"),
    ],
)
def test_every_frame_of_a_tensor_graph_has_autograds_numbers(make, output):
    tensors = make()
    view = Graph.from_tensor(tensors[output], **tensors).watch()
    assert_frames_follow_autograd(view, autograd_grads(tensors, output))
    forward = [f for f in view.frames if f.phase == "forward"]
    assert [f.node for f in forward] == list(view.graph.nodes) and len(view) == 2 * len(forward)
    for name, tensor in tensors.items():  # each node's value appears at its forward step, and stays
        at = [f.node for f in forward].index(name)
        assert all(name in f.values for f in view.frames[at:])
        assert all(name not in f.values for f in view.frames[:at])
        torch.testing.assert_close(as64(view.frames[at].values[name]), tensor.detach())


def test_a_non_scalar_output_starts_from_the_given_gradient():
    tensors = vector_output_tensors()
    upstream = torch.tensor([0.5, -2.0], dtype=D)
    view = Graph.from_tensor(tensors["c"], **tensors).watch(gradient=upstream)
    assert_frames_follow_autograd(view, autograd_grads(tensors, "c", upstream))
    with pytest.raises(ValueError, match=r"(?s)모양이 \(2,\).*watch\(gradient=\.\.\.\)"):
        Graph.from_tensor(tensors["c"], **tensors).watch()


def test_seed004_frames_read_as_the_lecture_reads_them():
    tensors = seed004_tensors()
    view = Graph.from_tensor(tensors["loss"], **tensors).watch()
    equations = {(f.phase, f.node): f.equation for f in view.frames}
    assert equations["forward", "ŷ"] == "ŷ = Mul(x, w) = 1"
    assert equations["forward", "s"] == "s = Sub(ŷ, y) = −1"
    assert equations["backward", "loss"] == "∂loss/∂loss = 1"
    assert equations["backward", "s"] == "∂loss/∂s = ∂loss/∂loss · ∂loss/∂s = (1)(−2) = −2"
    assert equations["backward", "y"] == "∂loss/∂y = ∂loss/∂s · ∂s/∂y = (−2)(−1) = 2"
    assert equations["backward", "w"] == "∂loss/∂w = ∂loss/∂ŷ · ∂ŷ/∂w = (−2)(1) = −2"
    tensors["loss"].backward()  # the graph was not used up by watch()
    assert tensors["w"].grad.item() == view.grads()["w"] == -2.0


def test_at_a_fork_the_frame_sums_both_branches():
    tensors = fork_tensors()
    view = Graph.from_tensor(tensors["f"], **tensors).watch()
    (last,) = [f for f in view.frames if f.phase == "backward" and f.node == "x"]
    assert [(t.consumer, t.upstream, t.local, t.product) for t in last.terms] == [
        ("q", 1.0, -2.0, -2.0),
        ("f", 1.0, 1.0, 1.0),
    ]
    assert last.equation == "∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1"
    assert caption(last, "ko") == "역전파 4/4: 노드 x의 기울기 · 분기: 갈래 2개의 기여를 더합니다"
    assert caption(last, "en").endswith("fork: the contributions of 2 branches add up")


def unit05_engine():
    from tests.test_unit05_engine import REFERENCE

    return REFERENCE["Value"]


def test_every_frame_of_a_value_graph_comes_from_the_nodes_rules():
    """Unit 5's engine (the reference solution's Value): the frames' numbers are its own rules' and equal
    autograd's on the same expression; watching changes no node's gradient."""
    Value = unit05_engine()
    a, b = Value(1.5), Value(-0.7)
    ab = a * b
    t = a.tanh()
    c = ab + t
    out = c**2
    named = {"a": a, "b": b, "ab": ab, "t": t, "c": c, "out": out}
    view = Graph.from_nodes(out, symbols={"*": "×", "**2": "(·)²"}, **named).watch()
    assert all(node.grad == 0.0 for node in named.values()), "watch() leaves the grads as they were"

    ta, tb = leaf(1.5), leaf(-0.7)
    tab = ta * tb
    tt = ta.tanh()
    tc = tab + tt
    tensors = {"a": ta, "b": tb, "ab": tab, "t": tt, "c": tc, "out": tc**2}
    assert_frames_follow_autograd(view, autograd_grads(tensors, "out"))
    equations = {(f.phase, f.node): f.equation for f in view.frames}
    assert equations["forward", "ab"] == "ab = a × b = −1.05"
    assert equations["forward", "out"] == f"out = (c)² = {out.data:.4g}"
    assert equations["backward", "a"].startswith("∂out/∂a = ∂out/∂ab · ∂ab/∂a + ∂out/∂t · ∂t/∂a = ")
    out.backward()
    assert view.grads()["a"] == pytest.approx(a.grad, rel=1e-12)


def test_watch_says_in_both_languages_what_it_cannot_do():
    with pytest.raises(ValueError, match=r"(?s)역전파 규칙이 없습니다.*knows no backward rules"):
        seed004_graph().watch()
    tensors = seed004_tensors()
    tensors["loss"].backward()  # frees the saved tensors that Mul's and Pow's backward need
    with pytest.raises(ValueError, match=r"(?s)backward\(\) 전에.*before backward\(\)"):
        Graph.from_tensor(tensors["loss"], **tensors).watch()


def test_the_slider_shows_each_frame_and_its_equation():
    tensors = fork_tensors()
    view = Graph.from_tensor(tensors["f"], **tensors).watch(lang="en")
    assert "course-watch" in view.widget._dom_classes
    assert view.slider.max == len(view) - 1 == 7 and view.play.max == 7
    assert (view.link.source, view.link.target) == ((view.play, "value"), (view.slider, "value"))
    first_image, first_text = view.image.value, view.text.value
    assert "forward pass 1/4: the value of node x" in first_text and "x = 3" in first_text
    view.slider.value = 7
    assert view.image.value == view.png(7) != first_image
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1" in view.text.value
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].count("<img ") == len(view) and "course-watch-strip" in bundle["text/html"]
    static = Graph.from_tensor(tensors["f"], **tensors).watch(static=True)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in static
    assert {"text/html", "image/png", "text/plain"} <= set(static)


def test_frames_render_korean_captions_with_no_missing_glyph():
    tensors = fork_tensors()
    view = Graph.from_tensor(tensors["f"], **tensors).watch(lang="ko")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when a font lacks a glyph (Hangul, −, ∂)
        pngs = [view.png(i) for i in range(len(view))]
    assert len({len(p) for p in pngs}) > 1 and all(p.startswith(b"\x89PNG") for p in pngs)
    sizes = {Image.open(io.BytesIO(p)).size for p in pngs}
    assert len(sizes) == 1, "every frame has one size, so the slider's image does not jump"


def test_exported_html_shows_the_static_strip():
    """nbconvert's HTML export of a notebook without widget state drops the widget and falls back to
    the strip: every frame and its equation, as on a static site."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    tensors = fork_tensors()
    bundle = Graph.from_tensor(tensors["f"], **tensors).watch()._repr_mimebundle_()
    cell = new_code_cell("view", outputs=[new_output("display_data", data=bundle)])
    body, _ = HTMLExporter().from_notebook_node(nbformat.from_dict(new_notebook(cells=[cell])))
    assert "course-watch-strip" in body and body.count("data:image/png;base64") >= 8
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1" in body
