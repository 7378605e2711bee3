"""The graph drawer: layout from edges, values and gradients written on every node."""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from autograder.graph import Graph, _equation, operation_label  # noqa: E402


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
