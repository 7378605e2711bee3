"""The process that runs a student's notebook cells, inside the sandbox.

It is started by :mod:`autograder.session` with ``python -m autograder.worker`` and speaks JSON lines on
its original stdin/stdout, which it moves to private descriptors before any student code runs; the
student's own ``print``, ``input`` and C-level writes go to IPython's capture or to ``/dev/null``.

Requests (one JSON object per line, each with an ``id`` echoed in the reply):

- ``run``: execute a cell's code (plain Python, or through IPython when it uses IPython syntax); reply
  with its captured outputs and error, if any.
- ``describe``: for some names, whether the student's namespace holds them, and whether they are callable.
- ``get``: a value from the namespace, as plain data (:func:`autograder.wire.encode`).
- ``call``: call a function from the namespace with plain-data arguments; reply with the result and the
  arguments' contents afterwards (a function may update a tensor in place, or set its ``.grad``).

Nothing here decides a grade: the grader judges the replies outside this process.
"""

from __future__ import annotations

import ast
import builtins
import io
import os
import re
import sys

OUTPUT_LIMIT = 64 * 1024  # characters of text kept per cell and stream
IMAGE_LIMIT = 512 * 1024  # characters of one base64 image kept


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


_IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|\?\s*$|get_ipython|^\s*\w+\s*=\s*[%!]", re.M)


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

    @property
    def shell(self):
        if self._shell is None:
            from IPython.core.interactiveshell import InteractiveShell

            self._shell = InteractiveShell.instance(colors="nocolor", user_ns=self.ns)
            self._shell.showtraceback = lambda *a, **k: None  # errors go in the reply, not printed
        return self._shell

    def run(self, request: dict) -> dict:
        code = str(request.get("code", ""))
        if _IPYTHON_SYNTAX.search(code):
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
            reply["error"] = {"ename": _text(type(error).__name__, 200), "evalue": _text(error)}
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
            reply["error"] = {"ename": _text(type(error).__name__, 200), "evalue": _text(error)}
        return reply

    def describe(self, request: dict) -> dict:
        names = {}
        for name in request.get("names", [])[:1000]:
            if not isinstance(name, str) or name not in self.ns:
                names[str(name)] = "missing"
                continue
            try:
                names[name] = "callable" if callable(self.ns[name]) else "value"
            except Exception:  # noqa: BLE001
                names[name] = "value"
        return {"names": names}

    def get(self, request: dict) -> dict:
        from .wire import encode

        name = str(request.get("name"))
        if name not in self.ns:
            return {"error": {"ename": "NameError", "evalue": f"name '{name}' is not defined"}}
        return {"value": encode(self.ns[name])}

    def call(self, request: dict) -> dict:
        from .wire import decode, encode

        name = str(request.get("name"))
        if name not in self.ns:
            return {"error": {"ename": "NameError", "evalue": f"name '{name}' is not defined"}}
        args = [decode(a) for a in request.get("args", [])]
        kwargs = {str(k): decode(v) for k, v in request.get("kwargs", {}).items()}
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Capped(), _Capped()  # what a function prints is not the answer
        try:
            result = self.ns[name](*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - the student's error is the reply, whatever it is
            if isinstance(error, KeyboardInterrupt):
                raise
            return {"error": {"ename": _text(type(error).__name__, 200), "evalue": _text(error)}}
        finally:
            sys.stdout, sys.stderr = old
        after = []
        for arg in args:
            if type(arg).__module__.startswith("torch") and hasattr(arg, "grad"):
                after.append({"value": encode(arg), "grad": encode(arg.grad)})
            else:
                after.append(None)
        return {"result": encode(result), "args_after": after}


def main() -> None:
    # The protocol keeps the original stdin/stdout; the student's code gets /dev/null for both.
    protocol_in = os.fdopen(os.dup(0), "rb", buffering=0)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    from .wire import dumps, loads

    worker = Worker()

    def send(message: dict) -> None:
        protocol_out.write(dumps(message).encode() + b"\n")

    send({"op": "ready", "pid": os.getpid()})
    reader = protocol_in
    while True:
        line = reader.readline()
        if not line:
            return
        request = loads(line)
        op = request.get("op")
        handler = {
            "run": worker.run,
            "describe": worker.describe,
            "get": worker.get,
            "call": worker.call,
        }.get(op)
        if handler is None:
            send({"id": request.get("id"), "error": {"ename": "ProtocolError", "evalue": f"unknown op {op}"}})
            continue
        reply = handler(request)
        reply["id"] = request.get("id")
        try:
            send(reply)
        except (TypeError, ValueError) as error:
            send({"id": request.get("id"), "error": {"ename": "EncodeError", "evalue": _text(error)}})


if __name__ == "__main__":
    main()
