"""The process that runs a student's notebook cells, inside the sandbox.

It is started by :mod:`autograder.session` with ``python -m autograder.worker`` and speaks JSON lines on
its original stdin/stdout, which it moves to private descriptors before any student code runs; the
student's own ``print``, ``input`` and C-level writes go to IPython's capture or to ``/dev/null``.

Requests (one JSON object per line, each with an ``id`` echoed in the reply):

- ``run``: execute a cell's code in an IPython shell; reply with its captured outputs and error, if any.
- ``describe``: for some names, whether the student's namespace holds them, and whether they are callable.
- ``get``: a value from the namespace, as plain data (:func:`autograder.wire.encode`).
- ``call``: call a function from the namespace with plain-data arguments; reply with the result and the
  arguments' contents afterwards (a function may update a tensor in place, or set its ``.grad``).

Nothing here decides a grade: the grader judges the replies outside this process.
"""

from __future__ import annotations

import os
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


class Worker:
    def __init__(self, shell) -> None:
        self.shell = shell

    @property
    def ns(self) -> dict:
        return self.shell.user_ns

    def run(self, request: dict) -> dict:
        from IPython.utils.capture import capture_output

        code = str(request.get("code", ""))
        with capture_output(display=True) as captured:
            result = self.shell.run_cell(code, store_history=True, silent=False)
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
        from IPython.utils.capture import capture_output

        try:
            with capture_output(display=False):
                result = self.ns[name](*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - the student's error is the reply, whatever it is
            if isinstance(error, KeyboardInterrupt):
                raise
            return {"error": {"ename": _text(type(error).__name__, 200), "evalue": _text(error)}}
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

    from IPython.core.interactiveshell import InteractiveShell

    from .wire import dumps, loads

    shell = InteractiveShell.instance(colors="nocolor")
    shell.showtraceback = lambda *a, **k: None  # errors are reported in the reply, not printed
    worker = Worker(shell)

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
