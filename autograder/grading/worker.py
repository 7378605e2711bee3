"""The process that runs a student's notebook cells, inside the sandbox.

It is started by :mod:`autograder.grading.sandbox` and speaks JSON lines on
its original stdin/stdout, which it moves to private descriptors before any student code runs; the
student's own ``print``, ``input`` and C-level writes go to IPython's capture or to ``/dev/null``.

Requests and replies are the ones of :mod:`autograder.grading.protocol`: ``run`` a cell (plain Python,
or through IPython when it uses IPython syntax), ``fetch``, ``assign`` and ``delete`` names of the student's
namespace, and calls, attributes, operators and conversions of the student's objects through handles
(:mod:`autograder.grading.remote`). While it answers, the student's code may call back a function the test
passed it: the worker then asks the grader, and serves the grader's requests until the answer comes.

Nothing here decides a grade: the grader judges the replies outside this process.
"""

from __future__ import annotations

import ast
import builtins
import io
import os
import sys

from .cells import uses_ipython
from .protocol import IMAGE_LIMIT, OUTPUT_LIMIT


def _text(value: object, limit: int = 2000) -> str:
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = "?"
    return text[:limit]


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return text[:OUTPUT_LIMIT] + f"\n… [{len(text) - OUTPUT_LIMIT} characters cut]\n"


def _error(error: BaseException) -> dict:
    from .remote import error_payload

    return error_payload(error)


class _Capped(io.StringIO):
    """A stream that keeps at most OUTPUT_LIMIT characters (a cell may print gigabytes)."""

    def write(self, text: str) -> int:
        room = OUTPUT_LIMIT + 1 - self.tell()
        if room > 0:
            super().write(str(text)[:room])
        return len(text)


class Worker:
    """Cells run as plain Python in one namespace; a cell with IPython syntax (magics, ``!``, ``?``,
    ``get_ipython``) goes through an IPython shell on the same namespace, created only then, since
    starting IPython costs a noticeable share of a short notebook's run."""

    def __init__(self) -> None:
        self.ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        self._shell = None
        self.table = None  # the handles to the student's objects (set by the Channel)

    @property
    def shell(self):
        if self._shell is None:
            from IPython.core.interactiveshell import InteractiveShell

            self._shell = InteractiveShell.instance(colors="nocolor", user_ns=self.ns)
            self._shell.showtraceback = lambda *a, **k: None  # errors go in the reply, not printed
            self._shell.enable_gui = lambda gui=None: None  # `%matplotlib inline`: no event loop to start
        return self._shell

    def run(self, request: dict) -> dict:
        code = str(request.get("code", ""))
        if uses_ipython(code):
            return self._run_ipython(code)
        stdout, stderr = _Capped(), _Capped()
        error, shown = None, None
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        try:
            tree = ast.parse(code)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<cell>", "exec"), self.ns)  # noqa: S102 - the student's own code
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), self.ns)  # noqa: S307
                if value is not None:
                    self.ns["_"] = value
                    shown = _text(repr(value), OUTPUT_LIMIT)
        except BaseException as caught:  # noqa: BLE001 - SystemExit too: the reply reports it
            if isinstance(caught, KeyboardInterrupt):
                raise
            error = caught
        finally:
            sys.stdout, sys.stderr = old
        outputs = []
        for name, stream in (("stdout", stdout), ("stderr", stderr)):
            if stream.tell():
                outputs.append({"output_type": "stream", "name": name, "text": _clip(stream.getvalue())})
        if shown is not None:
            outputs.append(
                {"output_type": "display_data", "data": {"text/plain": _clip(shown)}, "metadata": {}}
            )
        reply: dict = {"outputs": outputs}
        if error is not None:
            reply["error"] = _error(error)
        return reply

    def _run_ipython(self, code: str) -> dict:
        from IPython.utils.capture import capture_output

        shell = self.shell
        with capture_output(display=True) as captured:
            result = shell.run_cell(code, store_history=True, silent=False)
        outputs = []
        for name, text in (("stdout", captured.stdout), ("stderr", captured.stderr)):
            if text:
                outputs.append({"output_type": "stream", "name": name, "text": _clip(text)})
        for item in captured.outputs[:20]:
            data = {}
            if "image/png" in item.data and len(item.data["image/png"]) <= IMAGE_LIMIT:
                data["image/png"] = item.data["image/png"]
            if "text/plain" in item.data:
                data["text/plain"] = _clip(_text(item.data["text/plain"], OUTPUT_LIMIT))
            if data:
                outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
        reply: dict = {"outputs": outputs}
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            reply["error"] = _error(error)
        return reply

    def fetch(self, request: dict) -> dict:
        """The names asked for that the namespace holds: plain data, or handles to the student's objects."""
        names = [n for n in request.get("names", [])[:1000] if isinstance(n, str) and n in self.ns]
        items = [[name, self.table.encode(self.ns[name])] for name in names]
        return {"result": {"$t": "dict", "items": items}}

    def assign(self, request: dict) -> dict:
        self.ns[str(request.get("name"))] = self.table.decode(request.get("value"))
        return {"result": None}

    def delete(self, request: dict) -> dict:
        self.ns.pop(str(request.get("name")), None)
        return {"result": None}

    def serve_object(self, request: dict) -> dict:
        """A call, attribute, operator or conversion of one of the student's objects."""
        from .remote import serve_object

        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Capped(), _Capped()  # what a function prints is not the answer
        try:
            return serve_object(self.table, request)
        finally:
            sys.stdout, sys.stderr = old


class Channel:
    """The worker's end of the protocol: serves the grader's requests, and asks the grader when the
    student's code calls one of the grader's objects (then serves requests until the answer comes)."""

    def __init__(self, reader, writer) -> None:
        from . import protocol, wire
        from .remote import Table

        self.protocol, self.wire = protocol, wire
        self.reader, self.writer = reader, writer
        self.worker = Worker()
        self.worker.table = Table(self.ask, grader=False)
        self.next = 0
        self.depth = 0
        self.handlers = {
            protocol.RUN: self.worker.run,
            protocol.FETCH: self.worker.fetch,
            protocol.ASSIGN: self.worker.assign,
            protocol.DELETE: self.worker.delete,
        }
        objects = (protocol.CALL, protocol.GETATTR, protocol.SETATTR, protocol.OPERATOR, protocol.CONVERT)
        for op in (*objects, protocol.EACH):
            self.handlers[op] = self.worker.serve_object

    def send(self, message: dict) -> None:
        self.writer.write(self.wire.dumps(message).encode() + b"\n")

    def receive(self) -> dict | None:
        line = self.reader.readline()
        if not line:
            return None
        return self.wire.loads(line)

    def serve(self, request: dict) -> None:
        handler = self.handlers.get(request.get("op"))
        if handler is None:
            reply = {"error": {"ename": "ProtocolError", "evalue": f"unknown op {request.get('op')}"}}
        else:
            reply = handler(request)
        reply = {"op": self.protocol.REPLY, "id": request.get("id"), **reply}
        try:
            self.send(reply)
        except (TypeError, ValueError) as error:
            self.send(
                {
                    "op": self.protocol.REPLY,
                    "id": request.get("id"),
                    "error": {"ename": "EncodeError", "evalue": _text(error)},
                }
            )

    def ask(self, op: str, **fields: object) -> dict:
        """A request to the grader (the student's code called one of its objects); its raw reply."""
        if self.depth >= self.protocol.NESTING_LIMIT:
            raise RecursionError("too many nested calls across the sandbox wall")
        self.next += 1
        ident = -self.next  # the worker's own ids are negative, the grader's positive
        self.send({"op": op, "id": ident, **fields})
        self.depth += 1
        try:
            while True:
                message = self.receive()
                if message is None:
                    raise SystemExit(0)
                if message.get("op") == self.protocol.REPLY:
                    if message.get("id") == ident:
                        return message
                    continue
                self.serve(message)
        finally:
            self.depth -= 1

    def loop(self) -> None:
        while True:
            message = self.receive()
            if message is None:
                return
            if message.get("op") != self.protocol.REPLY:
                self.serve(message)


def main() -> None:
    # The protocol keeps the original stdin/stdout; the student's code gets /dev/null for both. Its input
    # is buffered: an unbuffered readline() asks the kernel for one byte at a time.
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    from .protocol import READY

    channel = Channel(protocol_in, protocol_out)
    channel.send({"op": READY, "pid": os.getpid()})
    channel.loop()


if __name__ == "__main__":
    main()
