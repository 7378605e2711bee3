"""The graph drawer: layout from edges, values and gradients written on every node."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from autograder.graph import Graph  # noqa: E402


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
