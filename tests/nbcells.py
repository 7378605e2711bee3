"""Small nbgrader notebooks for tests of the grading machinery: a setup cell, an answer, a test."""

from __future__ import annotations

import nbformat


def _marked(source: str, **meta: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, **meta}
    return cell


def setup(source: str) -> nbformat.NotebookNode:
    return _marked(source, grade_id="setup", locked=True, solution=False, grade=False)


def answer(source: str, grade_id: str = "answer") -> nbformat.NotebookNode:
    return _marked(source, grade_id=grade_id, solution=True, grade=False, locked=False)


def test(source: str, points: float, grade_id: str = "test") -> nbformat.NotebookNode:
    return _marked(source, grade_id=grade_id, solution=False, grade=True, locked=True, points=points)


def notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def hidden_only_lines(assignment: str) -> set[str]:
    """Lines of the assignment's hidden tests that no visible line of its sources contains (solutions
    included, which a student may submit as their own): what must never appear in feedback."""
    from autograder.grading.cells import segments
    from tests.conftest import ROOT

    visible, hidden = set(), set()
    for path in (ROOT / "source" / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for is_hidden, piece in segments(cell.source):
                (hidden if is_hidden else visible).update(line.strip() for line in piece.splitlines())
    return {h for h in hidden if len(h) > 8 and not any(h in v for v in visible)}
