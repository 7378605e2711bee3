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
