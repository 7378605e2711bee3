"""Unit 5's engine, property-based: the reference solution's ``Value`` (read from the assignment source's
solution cells, not a copy: the lecture's core, then what the assignment adds) agrees with torch.autograd on
random expression graphs, node by node, after one backward() call and after several; the mistakes the tests
name are exactly what the planted mistakes compute (the package computes them with no engine of its own: the
graph as data, torch's local derivatives, and the mistake applied to them); and deep graphs need no recursion.
"""

from __future__ import annotations

import random
from pathlib import Path

import nbformat
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import autograder
from autograder.course import Course
from autograder.expressions import (
    CORE,
    MISTAKES,
    POWERS,
    REPEAT_MISTAKES,
    UNARY,
    Spec,
    build,
    calls_in,
    mistaken_calls,
    mistaken_gradients,
    propagated,
    random_expression,
    torch_calls,
    torch_reference,
)
from autograder.grading.cells import is_test, nbgrader_meta
from tests.test_test_points import EDITS

MISTAKEN_IDS, REPEAT_IDS = set(MISTAKES), set(REPEAT_MISTAKES)

SOURCE = Course.find().source / "unit05" / "exercises.ipynb"
RELEASE = Course.find().release / "unit05" / "exercises.ipynb"
ENGINE_CELLS = ("value_class", "topological_order", "backward", "new_operations", "dot", "no_grad")


def engine(edit=None) -> dict:
    """The namespace of the source's setup and engine solution cells (``edit`` planted), markers dropped."""
    namespace: dict = {}
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type != "code" or is_test(cell) or grade_id not in ("setup", *ENGINE_CELLS):
            continue
        code = edit.apply(cell.source) if edit is not None and edit.cell == grade_id else cell.source
        lines = [
            line
            for line in code.splitlines()
            if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
        ]
        exec(compile("\n".join(lines), f"<{SOURCE.name}:{grade_id}>", "exec"), namespace)
    return namespace


REFERENCE = engine()
ALL_OPS = UNARY[:-1] + ("+", "-", "*", "/", "+c", "c+", "*c", "c*", "-c", "c-", "/c", "c/", "**") + POWERS
# the lecture's core, less what Exercise 4 replaces (division, powers): the planted mistakes of Exercise 1's
# cell reach these operations only
KEPT = tuple(op for op in CORE if op not in ("/", "/c", "c/", "**"))


def graphs(ops=ALL_OPS):
    return st.builds(
        lambda rng, leaves, operations, chain: random_expression(rng, leaves, operations, chain, ops=ops),
        st.randoms(use_true_random=False),
        st.integers(1, 4),
        st.integers(0, 25),
        st.sampled_from([0, 0, 0, 30]),
    )


def gradients(namespace: dict, spec: Spec) -> tuple[list[float], list[float]]:
    nodes = build(spec, namespace["Value"])
    nodes[-1].backward()
    return [n.data for n in nodes], [n.grad for n in nodes]


@settings(max_examples=80, deadline=None)
@given(graphs())
def test_the_reference_engine_agrees_with_torch_on_every_node(spec):
    values, grads = gradients(REFERENCE, spec)
    expected_values, expected_grads = torch_reference(spec)
    torch.testing.assert_close(torch.tensor(values), torch.tensor(expected_values), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.tensor(grads), torch.tensor(expected_grads), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(graphs(), st.randoms(use_true_random=False))
def test_the_diagnosis_without_a_mistake_is_torch(spec, draw):
    """The propagation the diagnoses start from, with no mistake applied, gives torch's gradients."""
    root = [("backward", spec.size - 1)]
    torch.testing.assert_close(
        torch.tensor(propagated(spec, root)), torch.tensor(torch_reference(spec)[1]), rtol=1e-10, atol=1e-12
    )
    if spec.steps:
        calls = calls_of(spec, draw)
        expected = torch.tensor(torch_calls(spec, calls))
        torch.testing.assert_close(torch.tensor(propagated(spec, calls)), expected, rtol=1e-10, atol=1e-12)


PLANTED = sorted(
    {(key, edit) for key, edits in EDITS["test_backward"].items() for edit in edits if key in MISTAKEN_IDS},
    key=lambda pair: pair[0],
)
REPEATED = sorted(
    {(key, edit) for key, edits in EDITS["test_backward"].items() for edit in edits if key in REPEAT_IDS},
    key=lambda pair: pair[0],
)
MUTATED = {key: engine(edit) for key, edit in PLANTED + REPEATED}


@settings(max_examples=30, deadline=None)
@given(graphs(KEPT))
def test_a_planted_mistake_computes_what_its_diagnosis_predicts(spec):
    """The wrong gradients the tests register for each mistake are what the mistaken solution gives."""
    predicted = mistaken_gradients(spec)
    for key, _ in PLANTED:
        _, grads = gradients(MUTATED[key], spec)
        torch.testing.assert_close(torch.tensor(grads), torch.tensor(predicted[key]), rtol=1e-10, atol=1e-12)


def calls_of(spec: Spec, draw: random.Random) -> list[tuple[str, int]]:
    """Two or three backward() calls, from an inner node or the root, a zero_grad() maybe between; the root
    last, so that every node's gradient is the last call's or the leaves' sum."""
    root = spec.size - 1
    calls = [("backward", draw.randrange(len(spec.leaves), spec.size)) for _ in range(draw.randint(1, 2))]
    if draw.random() < 0.5:
        calls.append(("zero_grad", root))
    return [*calls, ("backward", root)]


@settings(max_examples=40, deadline=None)
@given(graphs(ALL_OPS), st.randoms(use_true_random=False))
def test_repeated_calls_add_up_in_the_leaves_as_in_torch(spec, draw):
    if not spec.steps:
        return
    calls = calls_of(spec, draw)
    torch.testing.assert_close(
        torch.tensor(calls_in(REFERENCE["Value"], spec, calls)),
        torch.tensor(torch_calls(spec, calls)),
        rtol=1e-10,
        atol=1e-12,
    )


@settings(max_examples=30, deadline=None)
@given(graphs(KEPT), st.randoms(use_true_random=False))
def test_a_planted_mistake_of_repeated_calls_computes_what_its_diagnosis_predicts(spec, draw):
    if not spec.steps:
        return
    calls = calls_of(spec, draw)
    predicted = mistaken_calls(spec, calls, tuple(key for key, _ in REPEATED))
    for key, _ in REPEATED:
        torch.testing.assert_close(
            torch.tensor(calls_in(MUTATED[key]["Value"], spec, calls)),
            torch.tensor(predicted[key]),
            rtol=1e-10,
            atol=1e-12,
        )


def differ(ours: list[float], theirs: list[float]) -> bool:
    """Whether two lists of gradients differ by more than rounding."""
    return not torch.allclose(torch.tensor(ours), torch.tensor(theirs), rtol=1e-9, atol=1e-12)


def test_every_planted_mistake_is_wrong_somewhere():
    specs = [random_expression(random.Random(seed), 3, 12, chain=5, ops=KEPT) for seed in range(5)]
    for key, _ in PLANTED:
        wrong = [differ(gradients(MUTATED[key], spec)[1], torch_reference(spec)[1]) for spec in specs]
        assert any(wrong), f"{key}: the planted mistake changes nothing on these graphs"
    for key, _ in REPEATED:
        wrong = []
        for spec in specs:
            root = spec.size - 1
            calls = [("backward", root), ("backward", root)]
            if key == "zero_grad_did_nothing":  # zero_grad() is where this mistake shows
                calls += [("zero_grad", root), ("backward", root)]
            if key == "leaf_output_grad_overwritten":  # and this one in a leaf's own backward()
                calls.insert(1, ("backward", 0))
            wrong.append(differ(calls_in(MUTATED[key]["Value"], spec, calls), torch_calls(spec, calls)))
        assert any(wrong), f"{key}: the planted mistake changes nothing on these graphs"


@settings(max_examples=30, deadline=None)
@given(graphs(KEPT), st.randoms(use_true_random=False))
def test_a_leaf_as_the_output_adds_up_as_in_torch(spec, draw):
    """backward() called on a leaf adds 1 to its .grad, as torch's does (x.backward() twice gives 2), and the
    planted overwrite computes what its diagnosis predicts. The root comes last, as in calls_of."""
    root = spec.size - 1
    calls = [("backward", draw.randrange(0, spec.size)) for _ in range(draw.randint(1, 3))]
    calls = [*calls, ("backward", draw.randrange(len(spec.leaves))), ("backward", root)]
    expected = torch.tensor(torch_calls(spec, calls))
    torch.testing.assert_close(
        torch.tensor(calls_in(REFERENCE["Value"], spec, calls)), expected, rtol=1e-10, atol=1e-12
    )
    key = "leaf_output_grad_overwritten"
    predicted = mistaken_calls(spec, calls, (key,))[key]
    ours = calls_in(MUTATED[key]["Value"], spec, calls)
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(predicted), rtol=1e-10, atol=1e-12)


def test_a_leaf_s_own_backward_twice_gives_two_as_in_torch():
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    x.backward()
    x.backward()
    leaf = REFERENCE["Value"](1.0)
    leaf.backward()
    leaf.backward()
    assert leaf.grad == x.grad.item() == 2.0


def test_deep_graphs_need_no_recursion():
    spec = random_expression(random.Random(0), leaves=1, operations=0, chain=20_000)
    _, grads = gradients(REFERENCE, spec)
    assert (
        grads[0] in (1.0, -1.0)
        and len(REFERENCE["topological_order"](build(spec, REFERENCE["Value"])[-1])) > spec.size
    )


TORCH_BACKWARD = '''
def backward(self):
    """A cheat: the gradients from torch.autograd, written into the nodes."""
    import torch

    order = topological_order(self)
    leaves = {id(n): torch.tensor(n.data, dtype=torch.float64, requires_grad=True) for n in order}
    for node in order:
        if node.parents:
            Value.retrace(node, leaves)
    leaves[id(self)].backward()
    for node in order:
        node.grad = leaves[id(node)].grad.item()


Value.backward = backward
'''


def test_an_engine_whose_answers_come_from_torch_is_found_outside_the_kernel():
    from tests.test_rules import check_sources

    cells = [
        c.source
        for c in nbformat.read(SOURCE, as_version=4).cells
        if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade_id") != "backward"
    ]
    assert check_sources("Value", cells) == (True, [])
    defined, findings = check_sources("Value", [*cells, TORCH_BACKWARD])
    assert defined and {"import torch", "torch"} <= {f.what for f in findings}
    for answer in ("dot", "no_grad", "train"):  # they use the engine: judged by the same rule
        assert check_sources(answer, [*cells, TORCH_BACKWARD])[1]


def test_an_object_equal_to_everything_gains_nothing():
    """Tests compare plain floats: gradients that claim to equal anything fail, they do not pass."""
    from tests.test_test_points import Edit, Exercise

    exercise = Exercise(SOURCE)
    liar = Edit(
        "backward",
        (
            (
                "        node.local_backward()\n",
                "        node.local_backward()\n"
                "    class AlwaysEqual:\n"
                "        def __eq__(self, other):\n"
                "            return True\n"
                "    for node in order:\n"
                "        node.grad = AlwaysEqual()\n",
            ),
        ),
    )
    (cell,) = [c for c in exercise.tests() if nbgrader_meta(c)["grade_id"] == "test_backward"]
    try:
        failure = exercise.run(cell.source, exercise.edited(liar))
    except TypeError as error:  # float() of it is no number
        failure = error
    assert failure is not None and "AlwaysEqual" in str(failure)


def test_the_package_holds_no_line_of_the_solutions():
    """No file of the package students install holds a line of unit 5's solutions that the student version
    does not show: the diagnoses need no engine, only the graph as data and torch's local derivatives.
    (tests/test_hub.py checks the built wheel against every assignment; this check needs no root.)"""
    released = "\n".join(c.source for c in nbformat.read(RELEASE, as_version=4).cells)
    answers = set()
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            inside = (inside or "BEGIN SOLUTION" in line) and "END SOLUTION" not in line
            if inside and len(line.strip()) > 20 and line.strip() not in released:
                answers.add(line.strip())
    assert len(answers) > 50
    answers -= {"return function(*args)"}  # a line any wrapper has (rules.py has it too): no answer
    package = Path(autograder.__file__).parent
    found = {
        (line, str(path.relative_to(package)))
        for path in package.rglob("*")
        if path.is_file() and path.suffix in (".py", ".toml")
        for line in answers
        if line in path.read_text(encoding="utf-8")
    }
    assert not found, sorted(found)
