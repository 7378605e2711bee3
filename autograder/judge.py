"""Run one notebook for grading: the student's cells in the sandbox, the tests in this (trusted) process.

The notebook has been sanitized by nbgrader (test cells and locked cells restored from the gradebook).
Cells are taken in order:

- the student's cells (answers, and any cells they added) run in the sandboxed worker;
- locked instructor cells (the setup) run there too, so the student's code has its imports and data,
  and run here as well, so the tests have them;
- test cells run only here. Every name a test reads that the instructor's code did not define is the
  student's: a function becomes a proxy that calls the student's function in the sandbox with plain-data
  arguments and returns plain data; any other value is fetched as plain data. So the tests' own code,
  torch, the checker and ``assert`` are the grader's, untouched by anything the student ran, and the
  hidden tests' code never enters the sandbox.

A test cell passes when its code (visible part, then hidden part) runs to the end here. Its verdict is
written into the notebook as nbgrader reads it: an error output for a failure, a stream for a pass.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import wire
from .byhand import check_sources
from .messages import render
from .sandbox import Limits, SandboxUnavailable, Session, WorkerDied, WorkerTimeout

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


@dataclass
class CellResult:
    grade_id: str
    passed: bool
    messages: list[str] = field(default_factory=list)  # the checker's lines, bilingual
    hidden_failed: bool = False
    score: float | None = None  # partial credit earned, when the cell gives it (else all or nothing)

    def as_dict(self) -> dict:
        return {
            "grade_id": self.grade_id,
            "passed": self.passed,
            "messages": self.messages,
            "hidden_failed": self.hidden_failed,
            "score": self.score,
        }


class StudentGone(Exception):
    """The student's process cannot answer any more (died, timed out)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_instructor(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked")) and not meta.get("solution")


def split_hidden(code: str) -> tuple[str, str]:
    """A test cell's visible code and its hidden code (empty when there is none), each in order."""
    pieces = segments(code)
    visible = "\n".join(piece for hidden, piece in pieces if not hidden)
    return visible, "\n".join(piece for hidden, piece in pieces if hidden)


def free_names(code: str) -> set[str]:
    """Names that ``code`` reads but never binds itself (an over-approximation of bound names)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


class RemoteFunction:
    """The student's function, called in the sandbox; arguments and result cross as plain data."""

    def __init__(self, session: Session, name: str) -> None:
        self._session = session
        self.__name__ = name

    def __call__(self, *args: object, **kwargs: object) -> object:
        for value in (*args, *kwargs.values()):
            if callable(value) and not hasattr(value, "shape"):
                raise TypeError(
                    "test cells may pass data to a student's function, not functions "
                    f"(passed {type(value).__name__} to {self.__name__})"
                )
        reply = _ask(
            self._session,
            "call",
            name=self.__name__,
            args=[wire.encode(a) for a in args],
            kwargs={k: wire.encode(v) for k, v in kwargs.items()},
        )
        if "error" in reply:
            raise wire.RemoteError(str(reply["error"].get("ename")), str(reply["error"].get("evalue")))
        after = reply.get("args_after") or []
        for arg, state in zip(args, after, strict=False):
            _apply_in_place(arg, state)
        return wire.decode(reply.get("result"))


def _apply_in_place(arg: object, state: object) -> None:
    """What the student's function did to a tensor argument (values, ``.grad``), done to ours too."""
    import torch

    if not isinstance(arg, torch.Tensor) or not isinstance(state, dict):
        return
    value = wire.decode(state.get("value"))
    grad = wire.decode(state.get("grad"))
    with torch.no_grad():
        if isinstance(value, torch.Tensor) and value.shape == arg.shape:
            arg.copy_(value.to(arg.dtype))
    if grad is None:
        arg.grad = None
    elif isinstance(grad, torch.Tensor) and grad.shape == arg.shape and arg.is_floating_point():
        arg.grad = grad.detach().to(arg.dtype)


def _ask(session: Session, op: str, **fields: object) -> dict:
    try:
        return session.request(op, **fields)
    except WorkerTimeout:
        raise StudentGone("grade_timeout", seconds=session.limits.cell_seconds) from None
    except WorkerDied:
        raise StudentGone("grade_died") from None


MAX_RESTARTS = 2


class Judge:
    """Runs one notebook. When the student's process dies or times out, a new one is started and the
    cells that ran before are run again (without the one that failed), at most ``MAX_RESTARTS`` times,
    so one endless loop costs that exercise, not every exercise after it."""

    def __init__(self, start: Callable[[], Session]) -> None:
        self.start = start
        self.session = start()
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.gone: StudentGone | None = None
        self.student_names: set[str] = set()
        self.history: list[str] = []  # the cells the current process has run, to replay after a restart
        self.restarts = 0
        self.notes: list[str] = []  # what happened outside the tests (a cell that timed out, a crash)
        self.student_cells: list[str] = []  # the submitted code of the student's cells, as run

    def _lost(self, gone: StudentGone) -> None:
        """The student's process is gone: start another and bring it to where this one was."""
        self.gone = gone
        self.session.close()
        if self.restarts >= MAX_RESTARTS:
            return
        self.restarts += 1
        try:
            self.session = self.start()
            for code in self.history:
                _ask(self.session, "run", code=code)
        except (StudentGone, WorkerDied, WorkerTimeout, OSError):
            return
        self.gone = None

    def close(self) -> None:
        self.session.close()

    def assert_by_hand(self, function: object) -> None:
        """The trusted ``assert_by_hand``: reads the submitted cells, not the student's process."""
        name = getattr(function, "__name__", None) or str(function)
        defined, findings = check_sources(name, self.student_cells)
        if not defined:
            raise AssertionError(render("by_hand_missing", name=name))
        if findings:
            found = ", ".join(map(str, findings[:5]))
            raise AssertionError(render("by_hand_autograd", name=name, found=found))

    def run_student(self, cell, instructor: bool = False) -> None:
        """Run a cell in the sandbox and keep its outputs in the notebook."""
        if not instructor:
            self.student_cells.append(cell.source)
        cell.outputs = []
        if self.gone is not None:
            cell.outputs = [_error("StudentGone", render(self.gone.key, **self.gone.params))]
            return
        try:
            reply = _ask(self.session, "run", code=cell.source)
        except StudentGone as gone:
            cell.outputs = [_error("StudentGone", render(gone.key, **gone.params))]
            where = nbgrader_meta(cell).get("grade_id") or cell.source.strip().splitlines()[0][:60]
            self.notes.append(render("grade_cell_lost", cell=where) + "\n" + render(gone.key, **gone.params))
            self._lost(gone)
            return
        self.history.append(cell.source)
        for out in reply.get("outputs", [])[:30]:
            if isinstance(out, dict) and out.get("output_type") in ("stream", "display_data"):
                cell.outputs.append(_clean_output(out))
        if "error" in reply:
            err = reply["error"]
            cell.outputs.append(_error(str(err.get("ename"))[:200], str(err.get("evalue"))[:2000]))

    def run_instructor(self, cell) -> None:
        """A locked cell of the instructor's: in the sandbox for the student, and here for the tests."""
        self.run_student(cell, instructor=True)
        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            self._bind_student_names(cell.source)
            exec(compile(cell.source, "<setup>", "exec"), self.namespace)  # noqa: S102 - trusted code

    def _bind_student_names(self, code: str) -> None:
        # Refreshed for every cell: the student may have redefined a name since the last test.
        for name in self.student_names:
            self.namespace.pop(name, None)
        self.student_names.clear()
        wanted = sorted(n for n in free_names(code) if n not in self.namespace)
        if not wanted or self.gone is not None:
            return
        kinds = _ask(self.session, "describe", names=wanted).get("names", {})
        for name in wanted:
            kind = kinds.get(name)
            if kind == "callable":
                self.namespace[name] = RemoteFunction(self.session, name)
            elif kind == "value":
                reply = _ask(self.session, "get", name=name)
                if "value" not in reply:
                    continue
                self.namespace[name] = wire.decode(reply["value"])
            else:
                continue
            self.student_names.add(name)

    def run_test(self, cell) -> CellResult:
        grade_id = nbgrader_meta(cell).get("grade_id", "?")
        points = float(nbgrader_meta(cell).get("points", 0) or 0)
        printed = io.StringIO()
        result = CellResult(grade_id, passed=False)
        stage, value = "visible", None
        try:
            if self.gone is not None:
                raise self.gone
            self._bind_student_names(cell.source)
            self.namespace["assert_by_hand"] = self.assert_by_hand  # the trusted one, whatever was imported
            parts = segments(cell.source)
            with contextlib.redirect_stdout(printed):
                for number, (hidden, code) in enumerate(parts):
                    stage = "hidden" if hidden else "visible"
                    label = f"<{'hidden ' if hidden else ''}test {grade_id}>"
                    value = _run_code(code, self.namespace, label, last=number == len(parts) - 1)
            result.passed = True
        except StudentGone as gone:
            result.messages.append(render(gone.key, **gone.params))
            if self.gone is None:
                self._lost(gone)
        except wire.RemoteError as error:
            result.messages.append(
                render("grade_student_error", ename=error.ename, evalue=error.evalue[:500])
            )
        except NameError as error:
            result.messages.append(
                render("grade_name_error", name=getattr(error, "name", None) or str(error))
            )
        except AssertionError as error:
            text = str(error).strip()
            result.messages.append(text if text else render("grade_assert_failed"))
        except Exception as error:  # noqa: BLE001 - whatever the test hit, it is this cell's failure
            result.messages.append(
                render("grade_test_error", ename=type(error).__name__, evalue=str(error)[:500])
            )
        result.hidden_failed = not result.passed and stage == "hidden"
        if result.hidden_failed:
            result.messages.insert(0, render("grade_hidden_failed"))
        lines = [line for line in printed.getvalue().splitlines() if line.strip()]
        if result.passed:
            result.messages = lines[-40:]
            cell.outputs = [
                {"output_type": "stream", "name": "stdout", "text": "\n".join(lines[-40:]) + "\n"}
            ]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                # a number as the cell's value is nbgrader's partial credit (Parts.score() returns it)
                result.score = min(max(float(value), 0.0), points)
                result.passed = result.score >= points
                cell.outputs.append(
                    {
                        "output_type": "execute_result",
                        "execution_count": None,
                        "data": {"text/plain": repr(result.score)},
                        "metadata": {},
                    }
                )
        else:
            cell.outputs = [_error("TestFailed", "\n".join(result.messages))]
        return result


def segments(code: str) -> list[tuple[bool, str]]:
    """A test cell's code in order, as (hidden?, code) pieces split at the hidden-test markers."""
    pieces, current, hidden = [], [], False
    for line in code.splitlines():
        mark = line.strip()
        if mark in (HIDDEN_BEGIN, HIDDEN_END):
            if any(x.strip() for x in current):
                pieces.append((hidden, "\n".join(current)))
            current, hidden = [], mark == HIDDEN_BEGIN
            continue
        current.append(line)
    if any(x.strip() for x in current):
        pieces.append((hidden, "\n".join(current)))
    return pieces or [(False, "")]


def _run_code(code: str, namespace: dict, label: str, last: bool) -> object:
    """Run ``code``; when it is the cell's last piece and ends in an expression, return that value."""
    tree = ast.parse(code)
    tail = tree.body.pop() if last and tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, label, "exec"), namespace)  # noqa: S102 - the instructor's test code
    if tail is None:
        return None
    return eval(compile(ast.Expression(tail.value), label, "eval"), namespace)  # noqa: S307


def _clean_output(out: dict) -> dict:
    if out["output_type"] == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return {"output_type": "stream", "name": name, "text": str(out.get("text", ""))[:70_000]}
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    kept = {k: str(v) for k, v in data.items() if k in ("text/plain", "image/png")}
    return {"output_type": "display_data", "data": kept, "metadata": {}}


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": evalue.splitlines()}


def run_notebook(nb, start: Callable[[], Session], notes: list[str] | None = None) -> list[CellResult]:
    """Grade ``nb`` (in place: outputs and verdicts written into its cells); the test cells' results.

    ``start`` makes a new worker session (called again after a crash or timeout); what happened outside
    the tests is appended to ``notes``."""
    judge = Judge(start)
    results = []
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.execution_count = None
            if is_test(cell):
                results.append(judge.run_test(cell))
            elif is_instructor(cell):
                judge.run_instructor(cell)
            else:
                judge.run_student(cell)
    finally:
        judge.close()
        if notes is not None:
            notes.extend(judge.notes)
    return results


# ------------------------------------------------------------------------- one student, one process


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


def grade_task(task: dict) -> dict:
    """Run one student's notebooks; plain data in, plain data out (so Dask can ship it anywhere)."""
    limits = Limits(**task["limits"])
    folder = Path(tempfile.mkdtemp(prefix="course-submission-"))
    out = {"student": task["student"], "notebooks": {}, "notes": []}
    try:
        for rel, data in task["files"].items():
            target = folder / rel
            if target.resolve().is_relative_to(folder.resolve()):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        for name, nb_dict in task["notebooks"].items():
            nb = Node.wrap(nb_dict)
            started = time.monotonic()

            def start(started: float = started) -> Session:
                slot = os.getpid() % 4000
                return Session(folder, limits=limits, sandbox=task["sandbox"], slot=slot, started=started)

            try:
                cells = [c.as_dict() for c in run_notebook(nb, start, out["notes"])]
            except (WorkerDied, WorkerTimeout, SandboxUnavailable, OSError) as error:
                message = render("grade_died") + f"\n({type(error).__name__}: {error})"
                cells = []
                for cell in nb.cells:
                    if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                        if not cell.metadata["nbgrader"].get("solution"):
                            cell.outputs = [_error("TestFailed", message)]
                            cells.append(
                                {
                                    "grade_id": cell.metadata["nbgrader"]["grade_id"],
                                    "passed": False,
                                    "messages": [message],
                                    "hidden_failed": False,
                                }
                            )
            out["notebooks"][name] = {"notebook": nb, "cells": cells}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def warm_up() -> None:
    """A grading process's start: torch in, one thread (there is one grading process per core)."""
    import torch

    torch.set_num_threads(1)
