"""Run one notebook for grading: the student's cells in the sandbox, the tests in this (trusted) process.

The notebook has been sanitized by nbgrader (test cells and locked cells restored from the gradebook).
Cells are taken in order:

- the student's cells (answers, and any cells they added) run in the sandboxed worker;
- locked instructor cells (the setup) run there too, so the student's code has its imports and data,
  and run here as well, so the tests have them (IPython magics included, on both sides);
- test cells run only here. Every name a test uses that the instructor's code did not define is the
  student's: plain data (numbers, tensors, NumPy arrays and scalars, pandas values, lists …) is copied
  here, a module the grader imports itself (numpy, math, the standard library) is the grader's own
  (:mod:`.modules`), anything else (functions, classes, instances, the submission's own modules, pyplot)
  becomes a handle whose calls, attributes and operators run in the sandbox (:mod:`.remote`). A test may
  pass its own functions and objects to the student's code, which calls them back. Names a test deletes
  or reassigns are deleted or reassigned in the student's process too. Exceptions keep their type
  across the wall. So the tests' own code, torch, the checker and ``assert``
  are the grader's, untouched by anything the student ran, and the hidden tests' code never enters
  the sandbox.

A test cell passes when its code (visible part, then hidden part) runs to the end here. Its verdict is
written into the notebook as nbgrader reads it: an error output for a failure, a stream for a pass.
Tests run with the submission's folder (a copy, outside the sandbox) as their working folder, and with
``NBGRADER_EXECUTION=autograde`` in their environment, as under ``nbgrader autograde``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

from .. import recording
from ..messages import render
from ..rules import SHORT_FORMS, enforce, instructor_names
from . import protocol
from .cells import (
    DEFAULT_MARKERS,
    Markers,
    is_instructor,
    is_test,
    nbgrader_meta,
    segments,
    split_hidden,
    uses_ipython,
)
from .modules import SEEDED, MirrorSeeds, local_names, mirrored_seed
from .records import CellResult
from .remote import HandleGone, Table, serve_object
from .sandbox import SandboxUnavailable, Session, WorkerDied, WorkerTimeout
from .text import ERROR_CHARS, LABEL_CHARS, MESSAGE_CHARS, NAME_CHARS, PROBLEM_CHARS, STREAM_CHARS, problem_of


class StudentGone(Exception):
    """The student's process cannot answer any more (died, timed out)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


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


def used_names(code: str) -> set[str]:
    """Every name ``code`` reads, binds or deletes (the student's, if the student's namespace has it)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - set(dir(builtins))


SYNC = "__course_sync__"
_ABSENT = object()  # a student's name that a test deleted


class _SyncAfterBinding(ast.NodeTransformer):
    """After every statement that binds or deletes names, a call that mirrors them in the student's
    process (so ``del f`` in a test reaches the student's namespace before the next line calls into it)."""

    BINDING = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.Import, ast.ImportFrom)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            statements = getattr(node, name, None)
            if not isinstance(statements, list) or not statements or not isinstance(statements[0], ast.stmt):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue  # a function's own names are local
            out = []
            for statement in statements:
                out.append(statement)
                if isinstance(statement, self.BINDING):
                    call = ast.Expr(ast.Call(ast.Name(SYNC, ast.Load()), [], []))
                    out.append(ast.copy_location(call, statement))
            setattr(node, name, out)
        return node


def python_source(code: str) -> str:
    """A cell's code as plain Python: IPython's own transformation of magics and shell escapes."""
    if not uses_ipython(code):
        return code
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def _shell():
    """The grader process's IPython shell, for magics in instructor cells (``%matplotlib inline``)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline`: no event loop to start
    return shell


def _ask(session: Session, op: str, **fields: object) -> dict:
    try:
        return session.request(op, **fields)
    except WorkerTimeout:
        raise StudentGone("grade_timeout", seconds=session.limits.cell_seconds) from None
    except WorkerDied:
        raise StudentGone("grade_died") from None


MAX_RESTARTS = 2


def _cell_label(cell) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    if grade_id:
        return str(grade_id)
    lines = [line for line in str(cell.source).splitlines() if line.strip()]
    return lines[0].strip()[:LABEL_CHARS] if lines else "(empty cell)"


class Judge:
    """Runs one notebook. When the student's process dies or times out, a new one is started and the
    cells that ran before are run again (without the one that failed), at most ``MAX_RESTARTS`` times,
    so one endless loop costs that exercise, not every exercise after it."""

    def __init__(self, start: Callable[[], Session], markers: Markers = DEFAULT_MARKERS) -> None:
        self.start = start
        self.markers = markers  # the course's hidden-test delimiters
        self.table = Table(self._table_ask, grader=True)
        self.session = self._open()
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.namespace[SYNC] = self._sync
        self.namespace[SEEDED] = self._seeded
        self.gone: StudentGone | None = None
        self.bound: dict[str, object] = {}  # the student's names put into the namespace, and their values
        self.deleted: set[str] = set()  # the student's names a test deleted (a test may define them again)
        self.history: list[str] = []  # the cells the current process has run, to replay after a restart
        self.restarts = 0
        self.notes: list[str] = []  # what happened outside the tests (a cell that timed out, a crash)
        self.instructor_notes: list[str] = []  # problems in the instructor's own cells
        self.lost_cells: list[str] = []  # cells left out after they stopped the student's process
        self.student_cells: list[str] = []  # the submitted code of the student's cells, as run
        self.instructor_names: frozenset[str] = frozenset()  # what the tests and the package put beside them
        self.instructor_copies: set[str] = set()  # the instructor's cells, as fingerprints

    def _open(self) -> Session:
        session = self.start()
        session.serve = lambda request: serve_object(self.table, request)
        return session

    def _table_ask(self, op: str, **fields: object) -> dict:
        if self.gone is not None:
            raise self.gone
        return _ask(self.session, op, **fields)

    def _lost(self, gone: StudentGone) -> None:
        """The student's process is gone: start another and bring it to where this one was."""
        self.gone = gone
        self.table.reset()
        for name, value in self.bound.items():
            if value is not _ABSENT:
                self.namespace.pop(name, None)  # handles into the old process: fetched again when used
        self.bound.clear()
        self.session.close()
        if self.restarts >= MAX_RESTARTS:
            return
        self.restarts += 1
        try:
            self.session = self._open()
            for code in self.history:
                _ask(self.session, protocol.RUN, code=code)
        except (StudentGone, WorkerDied, WorkerTimeout, OSError):
            return
        self.gone = None

    def close(self) -> None:
        self.session.close()

    def assert_rules(self, function: object, *rules: str) -> None:
        """The trusted ``assert_rules``: :func:`autograder.rules.enforce` on the submitted cells, not on the
        student's process."""
        name = _remote_name(function) or str(function)
        enforce(rules, name, self.student_cells, self.instructor_names)

    def _short_form(self, rules: tuple[str, ...], function: object) -> None:
        self.assert_rules(function, *rules)

    def know_instructor(self, nb) -> None:
        """Learn the instructor's cells before the run: their names are not the student's to use, and a
        copy of one (a test cell that lost its metadata) is the instructor's code, not the student's."""
        cells, tests = [], []
        for cell in nb.cells:
            if cell.cell_type == "code" and (is_test(cell) or is_instructor(cell)):
                code = python_source(cell.source)
                (tests if is_test(cell) else cells).append(code)
                self.instructor_copies |= {
                    _fingerprint(code),
                    _fingerprint(split_hidden(code, self.markers)[0]),
                }
        self.instructor_names = instructor_names(cells, tests)

    def run_student(self, cell, instructor: bool = False) -> dict | None:
        """Run a cell in the sandbox and keep its outputs in the notebook; the error it raised, if any."""
        if not instructor and _fingerprint(cell.source) not in self.instructor_copies:
            self.student_cells.append(python_source(cell.source))
        cell.outputs = []
        if self.gone is not None:
            cell.outputs = [_error("StudentGone", render(self.gone.key, **self.gone.params))]
            return None
        try:
            reply = _ask(self.session, protocol.RUN, code=cell.source)
        except StudentGone as gone:
            cell.outputs = [_error("StudentGone", render(gone.key, **gone.params))]
            label = _cell_label(cell)
            self.lost_cells.append(label)
            self.notes.append(render("grade_cell_lost", cell=label) + "\n" + render(gone.key, **gone.params))
            self._lost(gone)
            return None
        self.history.append(cell.source)
        for out in reply.get("outputs", [])[:30]:
            if isinstance(out, dict) and out.get("output_type") in ("stream", "display_data"):
                cell.outputs.append(_clean_output(out))
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            cell.outputs.append(
                _error(str(err.get("ename"))[:NAME_CHARS], str(err.get("evalue"))[:MESSAGE_CHARS])
            )
            return err
        return None

    def run_instructor(self, cell) -> None:
        """A locked cell of the instructor's: in the sandbox for the student, and here for the tests.
        When it fails on either side, that is the instructor's problem, and both notes say so."""
        error = self.run_student(cell, instructor=True)
        label = _cell_label(cell)
        if error is not None:
            self._blame_instructor(label, "sandbox", str(error.get("ename")), str(error.get("evalue")))
        try:
            self._bind_student_names(cell.source)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = python_source(cell.source)
                if "get_ipython" in code:
                    self.namespace.setdefault("get_ipython", _shell)
                exec(compile(code, "<setup>", "exec"), self.namespace)  # noqa: S102 - trusted code
        except StudentGone as gone:
            self._lost(gone)
        except Exception as caught:  # noqa: BLE001 - the instructor's own cell; reported, grading goes on
            self._blame_instructor(label, "grader", type(caught).__name__, str(caught))

    def _blame_instructor(self, label: str, where: str, ename: str, evalue: str) -> None:
        note = render(
            "grade_instructor_cell", cell=label, where=where, ename=ename, evalue=evalue[:PROBLEM_CHARS]
        )
        if note not in self.instructor_notes:
            self.instructor_notes.append(note)
            self.notes.append(note)

    def _bind_student_names(self, code: str) -> None:
        # Refreshed for every cell: the student may have redefined a name since the last test.
        for name, value in self.bound.items():
            if value is not _ABSENT or name in self.namespace:
                self.namespace.pop(name, None)
        self.bound.clear()
        wanted = sorted(n for n in used_names(code) if n not in self.namespace and n != SYNC)
        if not wanted or self.gone is not None:
            return
        fetched = self.table.result(_ask(self.session, protocol.FETCH, names=wanted))
        if not isinstance(fetched, dict):
            return
        for name in wanted:
            if name in fetched:
                self.namespace[name] = fetched[name]
                self.bound[name] = fetched[name]
            elif name in self.deleted:
                self.bound[name] = _ABSENT  # defined again by a test: mirrored, as it was deleted

    def _sync(self) -> None:
        """Mirror in the student's process what the test just did to the student's names."""
        if self.gone is not None:
            return
        for name, value in list(self.bound.items()):
            if name not in self.namespace:
                if value is not _ABSENT:
                    _ask(self.session, protocol.DELETE, name=name)
                    self.deleted.add(name)
                    self.bound[name] = _ABSENT
            elif self.namespace[name] is not value:
                current = self.namespace[name]
                _ask(self.session, protocol.ASSIGN, name=name, value=self.table.encode(current))
                self.bound[name] = current

    def _seeded(self, function: Callable, *args: object, **kwargs: object) -> object:
        """A test's ``np.random.seed(…)`` (or ``random.seed``, ``torch.manual_seed``): the grader's generator
        is seeded, and the student's too, so that the student's code draws what it draws under nbgrader."""
        result = function(*args, **kwargs)
        code = mirrored_seed(function, args, kwargs)
        if code is not None and self.gone is None:
            _ask(self.session, protocol.RUN, code=code)
        return result

    def run_test(self, cell) -> CellResult:
        """Run a test cell here; its verdict, with what the grader's own checker and rules named on the
        way (known mistakes, refused shortcuts, each part of a partial-credit cell)."""
        with recording.listening() as heard:
            result = self._run_test(cell, heard)
        result.mistakes, result.shortcuts, result.parts = heard.mistakes, heard.shortcuts, heard.part_list()
        return result

    def _run_test(self, cell, heard: recording.Heard) -> CellResult:
        grade_id = nbgrader_meta(cell).get("grade_id", "?")
        points = float(nbgrader_meta(cell).get("points", 0) or 0)
        printed = io.StringIO()
        result = CellResult(grade_id, passed=False)
        stage, value = "visible", None
        try:
            if self.gone is not None:
                raise self.gone
            self._bind_student_names(cell.source)
            # the trusted checks of the submitted cells, whatever the setup imported
            self.namespace["assert_rules"] = self.assert_rules
            for short, rules in SHORT_FORMS.items():
                self.namespace[short] = functools.partial(self._short_form, rules)
            parts = segments(python_source(cell.source), self.markers)
            with contextlib.redirect_stdout(printed):
                for number, (hidden, code) in enumerate(parts):
                    stage = heard.stage = "hidden" if hidden else "visible"
                    label = f"<{'hidden ' if hidden else ''}test {grade_id}>"
                    value = _run_code(code, self.namespace, label, last=number == len(parts) - 1)
            result.passed = True
        except StudentGone as gone:
            result.messages.append(render(gone.key, **gone.params))
            if self.gone is None:
                self._lost(gone)
        except HandleGone:
            result.messages.append(render("grade_handle_gone"))
        except AssertionError as error:
            text = str(error).strip()
            result.messages.append(text if text else render("grade_assert_failed"))
        except Exception as error:  # noqa: BLE001 - whatever the test hit, it is this cell's failure
            result.messages.append(self._explain(error))
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

    def _explain(self, error: Exception) -> str:
        """A test's uncaught exception, said as what it is: the student's code raising, a name the
        student never defined (and why, when a cell was left out), or the test itself failing."""
        ename, evalue = type(error).__name__, str(error)[:ERROR_CHARS]
        if getattr(error, "__course_remote__", False):
            message = render("grade_student_error", ename=ename, evalue=evalue)
            missing = isinstance(error, NameError) and re.search(r"name '(\w+)' is not defined", evalue)
            if missing and missing.group(1) in self.namespace:
                # defined by the tests, which run outside the student's process: a deliberate difference
                message += "\n" + render("grade_isolated_name", name=missing.group(1))
            absent = isinstance(error, FileNotFoundError) and re.search(r": '([^']+)'$", evalue)
            if absent and Path(absent.group(1)).exists():
                # a file on the tests' side of the wall (written by a test): a deliberate difference
                message += "\n" + render("grade_isolated_file", path=absent.group(1))
            return message
        if isinstance(error, NameError):
            message = render("grade_name_error", name=getattr(error, "name", None) or evalue)
            if self.lost_cells:
                message += "\n" + render("grade_name_after_lost", cells=", ".join(self.lost_cells))
            return message
        return render("grade_test_error", ename=ename, evalue=evalue)


def _fingerprint(code: str) -> str:
    """A cell's code with blank lines and trailing spaces left out: a copy of it has the same one."""
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def _remote_name(value: object) -> str | None:
    try:
        name = value.__name__  # a handle to a student's function or class: its name, from the sandbox
    except Exception:  # noqa: BLE001
        return None
    return name if isinstance(name, str) else None


def _run_code(code: str, namespace: dict, label: str, last: bool) -> object:
    """Run ``code``; when it is the cell's last piece and ends in an expression, return that value."""
    tree = ast.parse(code)
    tail = tree.body.pop() if last and tree.body and isinstance(tree.body[-1], ast.Expr) else None
    tree = ast.fix_missing_locations(_SyncAfterBinding().visit(MirrorSeeds().visit(tree)))
    exec(compile(tree, label, "exec"), namespace)  # noqa: S102 - the instructor's test code
    if tail is None:
        return None
    return eval(compile(ast.Expression(tail.value), label, "eval"), namespace)  # noqa: S307


def _clean_output(out: dict) -> dict:
    if out["output_type"] == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return {"output_type": "stream", "name": name, "text": str(out.get("text", ""))[:STREAM_CHARS]}
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    kept = {k: str(v) for k, v in data.items() if k in ("text/plain", "image/png")}
    return {"output_type": "display_data", "data": kept, "metadata": {}}


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": evalue.splitlines()}


def run_notebook(
    nb,
    start: Callable[[], Session],
    notes: list[str] | None = None,
    instructor_notes: list[str] | None = None,
    workdir: Path | None = None,
    markers: Markers = DEFAULT_MARKERS,
) -> list[CellResult]:
    """Grade ``nb`` (in place: outputs and verdicts written into its cells); the test cells' results.

    ``start`` makes a new worker session (called again after a crash or timeout); what happened outside
    the tests is appended to ``notes`` (and problems of the instructor's cells to ``instructor_notes``).
    The tests run in ``workdir`` (the submission's folder), with ``NBGRADER_EXECUTION`` set."""
    judge = Judge(start, markers)
    judge.know_instructor(nb)
    # a module of the student's whose name the submission's files provide is not the installed one
    judge.table.local_modules = local_names(workdir if workdir is not None else Path.cwd())
    results = []
    previous = os.getcwd()
    environment = os.environ.get("NBGRADER_EXECUTION")
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    try:
        if workdir is not None:
            os.chdir(workdir)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.execution_count = None
            try:
                if is_test(cell):
                    results.append(judge.run_test(cell))
                elif is_instructor(cell):
                    judge.run_instructor(cell)
                else:
                    judge.run_student(cell)
            except (WorkerDied, WorkerTimeout, SandboxUnavailable):
                raise  # no student process at all: grade_task scores the notebook's tests with the reason
            except Exception as error:  # noqa: BLE001 - a fault of the judge costs that cell, never the run
                problem = problem_of(error)
                message = render("grade_internal", problem=problem)
                judge.notes.append(message)
                if is_test(cell):
                    results.append(CellResult(nbgrader_meta(cell).get("grade_id", "?"), False, [message]))
                    cell.outputs = [_error("TestFailed", message)]
    finally:
        os.chdir(previous)
        if environment is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        judge.close()
        if notes is not None:
            notes.extend(judge.notes)
        if instructor_notes is not None:
            instructor_notes.extend(judge.instructor_notes)
    return results
