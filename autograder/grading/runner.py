"""The task runner: what a job slot (a local grading process or a Dask worker) does with one student's
task. It lays the files out, starts the student's process for each notebook and hands the notebook to
:func:`.judge.run_notebook`; it judges nothing itself.

:func:`warm_up` is a slot's start (torch imported once per slot, one thread); :func:`grade_task` runs one
:class:`~.tasks.Task` (given as its plain dict, as Dask ships it) and returns the
:class:`~.tasks.Outcome` as a plain dict. :class:`Node` and :func:`read_notebook` give a notebook's cells
attribute access without importing nbformat, whose JSON-schema import costs seconds in every process.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..messages import render
from .folders import scratch_folders, write_files
from .judge import _error, run_notebook
from .records import CellResult
from .sandbox import Limits, SandboxUnavailable, Session, WorkerDied, WorkerTimeout, warm_template
from .tasks import GradedNotebook, Outcome, Task


class Node(dict):
    """A notebook or cell as a dict with attribute access, like nbformat's NotebookNode, without
    importing nbformat (whose JSON-schema import costs seconds in every grading process)."""

    def __getattr__(self, name: str) -> object:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: object) -> None:
        self[name] = value

    @classmethod
    def wrap(cls, value: object) -> object:
        if isinstance(value, dict):
            return cls({k: cls.wrap(v) for k, v in value.items()})
        if isinstance(value, list):
            return [cls.wrap(v) for v in value]
        return value

    def __reduce__(self):
        return (Node, (dict(self),))


def read_notebook(path: Path) -> Node:
    """A notebook file as a ``Node``: a version-4 notebook is read as JSON, its multi-line fields joined
    as nbformat joins them; any other version goes through nbformat (whose import costs seconds)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        import nbformat

        return Node.wrap(dict(nbformat.read(path, as_version=4)))
    for cell in data["cells"]:
        if isinstance(cell, dict):
            for key in ("source", "text"):
                if isinstance(cell.get(key), list):
                    cell[key] = "".join(cell[key])
            for output in cell.get("outputs", []) if isinstance(cell.get("outputs"), list) else []:
                if isinstance(output, dict) and isinstance(output.get("text"), list):
                    output["text"] = "".join(output["text"])
    return Node.wrap(data)


def _no_process(nb: Node, error: Exception) -> list[CellResult]:
    """Every test of ``nb`` failed with the reason, when no student process could run it at all."""
    message = render("grade_died") + f"\n({type(error).__name__}: {error})"
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.outputs = [_error("TestFailed", message)]
            cells.append(CellResult(meta["grade_id"], False, [message]))
    return cells


def grade_task(data: dict) -> dict:
    """Run one student's notebooks; plain data in (a :class:`Task`), plain data out (an :class:`Outcome`)."""
    task = Task.from_dict(data)
    outcome = Outcome(task.student)
    # the submission's folder, copied into each sandbox, and the tests' working folder, a copy of it
    with scratch_folders("course-submission-", "course-tests-") as (folder, tests_dir):
        for base in (folder, tests_dir):
            write_files(base, task.files)
        for name, nb_dict in task.notebooks.items():
            nb = Node.wrap(nb_dict)
            started = time.monotonic()

            def start(started: float = started) -> Session:
                return Session(
                    folder, limits=task.limits, sandbox=task.sandbox, slot=slot_number(), started=started
                )

            try:
                cells = run_notebook(
                    nb,
                    start,
                    outcome.notes,
                    outcome.instructor_notes,
                    workdir=tests_dir,
                    markers=task.markers,
                )
            except (WorkerDied, WorkerTimeout, SandboxUnavailable, OSError) as error:
                cells = _no_process(nb, error)
            outcome.notebooks[name] = GradedNotebook(nb, cells)
    return outcome.as_dict()


def slot_number() -> int:
    """This grading process's slot: the user id its sandboxes run as is picked from it."""
    return os.getpid() % 4000


def warm_up(limits: Limits | None = None, sandbox: bool = False) -> None:
    """A grading process's start: its slot's warm template started first (so that it imports torch in
    its sandbox while this process imports its own), then torch here, one thread (one process per core)."""
    if sandbox and limits is not None:
        warm_template(slot_number(), limits, wait=False)
    import torch

    from .template import warm_autograd

    torch.set_num_threads(1)
    warm_autograd()
