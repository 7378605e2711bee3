"""Objects used across the sandbox wall through handles, never pickle.

Each side (the grader, and the student's worker in the sandbox) keeps a :class:`Table` of its own objects
that it has let the other side see, by number. The other side holds a :class:`RemoteObject` for each: a
proxy whose attribute reads, calls, operators and conversions are requests (:mod:`.protocol`) answered by
the side that owns the object, with plain data (:mod:`.wire`) or further handles in the answer. So a test
can build a student's ``Value``, add and multiply it, call ``backward()`` and read ``.grad``, while the
student's code runs only in the sandbox; and a test can pass its own function to the student's code, which
calls it back across the wall.

What the grader shares is limited: the student's code can call what a test handed it, and read or set its
public attributes (no leading underscore); an attribute that is not plain data comes back only if the tests
defined it (a function or an instance of a class written in a test cell), never a module or a builtin.

Exceptions keep their type: a built-in one (``ValueError``, ``NameError``, …) is raised as itself, with its
arguments; any other is raised as a class of the same name that derives from the nearest built-in base and
from :class:`RemoteException` (so ``except MyError`` matches when ``MyError`` came from the same side).
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

from . import modules, protocol, wire
from .text import DETAIL_CHARS, MESSAGE_CHARS, NAME_CHARS


class RemoteException(Exception):  # noqa: N818 - the base of exceptions that came from the other side
    """An exception of a type that is not built in, raised on the other side of the wall."""

    remote_module = ""
    remote_name = ""


class HandleGone(RuntimeError):
    """A proxy whose object belonged to a student process that has since been replaced."""


def _builtin_exception(name: str) -> type[BaseException] | None:
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return None


def exception_lineage(cls: type) -> list[list[str]]:
    """``cls`` and its bases as (module, name) pairs, for :meth:`Table.exception_class` on the other side."""
    try:
        return [[str(c.__module__), str(c.__qualname__)] for c in cls.__mro__][:20]
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return [["builtins", "Exception"]]


def error_payload(error: BaseException) -> dict:
    """What crosses the wall of an exception: its type's lineage, its message and its plain arguments."""
    try:
        evalue = str(error)
    except Exception:  # noqa: BLE001
        evalue = "?"
    try:
        args = wire.encode(tuple(error.args))
    except Exception:  # noqa: BLE001
        args = None
    return {
        "ename": type(error).__name__[:NAME_CHARS],
        "evalue": evalue[:MESSAGE_CHARS],
        "lineage": exception_lineage(type(error)),
        "args": args,
    }


def _defined_by_tests(value: object) -> bool:
    """A function, or an instance or method of a class, that instructor code (tests, setup) defined."""
    if inspect.ismethod(value):
        return _defined_by_tests(value.__self__)
    if inspect.isfunction(value):
        return value.__module__ == "__main__"
    if isinstance(value, (type, types.ModuleType)):
        return False
    return getattr(type(value), "__module__", None) == "__main__"


class Table:
    """One side's objects that the other side holds handles to, and the proxies for the other side's."""

    def __init__(
        self, ask: Callable[..., dict], *, grader: bool, local_modules: frozenset = frozenset()
    ) -> None:
        self.ask = ask  # ask(op, **fields) -> the raw reply
        self.grader = grader  # the grader's table shares with restrictions; the worker's shares anything
        self.local_modules = local_modules  # top-level module names the submission's files provide
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.proxies: dict[int, RemoteObject] = {}
        self.exceptions: dict[tuple[str, str], type] = {}
        self.generation = 0

    def reset(self) -> None:
        """The other side was replaced: its handles mean nothing any more."""
        self.generation += 1
        self.proxies.clear()

    # ----------------------------------------------------------------------------- our own objects

    def refer(self, value: object) -> dict | None:
        if isinstance(value, RemoteObject):
            if value._course_table is self and value._course_generation == self.generation:
                return {"$t": "yours", "id": value._course_id}
            return None
        if isinstance(value, types.ModuleType) and self.grader:
            return None  # never one of the grader's modules
        key = id(value)
        ident = self.ids.get(key)
        if ident is None:
            ident = len(self.objects) + 1
            self.objects[ident] = value  # kept alive, so its id is never reused while the handle exists
            self.ids[key] = ident
        kind = type(value)
        handle = {"$t": "obj", "id": ident, "type": str(getattr(kind, "__qualname__", "object"))[:NAME_CHARS]}
        if isinstance(value, type) and issubclass(value, BaseException):
            handle["exception"] = exception_lineage(value)
        if isinstance(value, types.ModuleType):  # by name too, for the grader to import its own
            handle["$t"] = "module"
            handle["name"], handle["own"] = modules.reported(value)
        return handle

    def lookup(self, ident: object) -> object:
        if not isinstance(ident, int) or ident not in self.objects:
            raise wire.WireError("unknown handle")
        return self.objects[ident]

    def encode(self, value: object) -> Any:
        return wire.encode(value, table=self)

    # ------------------------------------------------------------------------ the other side's ones

    def resolve(self, data: dict) -> object:
        if data["$t"] == "yours":
            return self.lookup(data["id"])
        if isinstance(data.get("exception"), list):
            return self.exception_class(data["exception"])
        proxy = self.proxies.get(data["id"])
        if proxy is None:
            proxy = RemoteObject(self, data["id"], str(data.get("type", "object"))[:NAME_CHARS])
            self.proxies[data["id"]] = proxy
        return proxy

    def decode(self, data: Any) -> object:
        return wire.decode(data, table=self)

    def module(self, data: dict) -> object:
        """A module of the other side's. The grader takes its own module of that name when it imports
        one itself and nothing says the student's is another (:mod:`.modules`); otherwise a handle."""
        name = data.get("name")
        if not self.grader:
            return self.resolve(data)
        found = None if name in modules.STUDENT_STATE else modules.grader_module(name)
        if found is None:
            return self.resolve(data)  # the submission's own module: used through a handle
        if data.get("own") is not False or modules.top(name) in self.local_modules:
            from ..messages import render

            return modules.ShadowedModule(name, render("grade_module_shadowed", name=modules.top(name)))
        return found

    def exception_class(self, lineage: list) -> type[BaseException]:
        """The local class for an exception type from the other side: a built-in as itself, any other as
        a subclass of its nearest built-in base and of :class:`RemoteException`, one class per name."""
        pairs = [(str(p[0]), str(p[1])) for p in lineage if isinstance(p, list) and len(p) == 2][:20]
        if not pairs:
            return RemoteException
        module, name = pairs[0]
        if module == "builtins" and _builtin_exception(name) is not None:
            return _builtin_exception(name)
        known = self.exceptions.get((module, name))
        if known is not None:
            return known
        base = next(
            (_builtin_exception(n) for m, n in pairs[1:] if m == "builtins" and _builtin_exception(n)),
            Exception,
        )
        if base is Exception:
            bases: tuple = (RemoteException,)
        else:
            bases = (base, RemoteException)
        cls = type(name.rsplit(".", 1)[-1] or "RemoteException", bases, {"__module__": module or "student"})
        cls.remote_module, cls.remote_name = module, name
        self.exceptions[(module, name)] = cls
        return cls

    def error(self, payload: object) -> BaseException:
        """The exception an error reply describes, ready to raise; marked as the other side's."""
        payload = payload if isinstance(payload, dict) else {}
        lineage = payload.get("lineage")
        if not isinstance(lineage, list):
            lineage = [["builtins", str(payload.get("ename", "Exception"))]]
        cls = self.exception_class(lineage)
        evalue = str(payload.get("evalue", ""))[:MESSAGE_CHARS]
        try:
            args = wire.decode(payload.get("args"))
        except wire.WireError:
            args = None
        error: BaseException
        try:
            error = cls(*args) if isinstance(args, tuple) else cls(evalue)
        except Exception:  # noqa: BLE001 - an exception type whose constructor wants other arguments
            error = cls(evalue)
        if str(error) != evalue and not isinstance(error, KeyError):
            try:
                error = cls(evalue)
            except Exception:  # noqa: BLE001
                error = RemoteException(evalue)
        try:
            error.__course_remote__ = True
        except AttributeError:
            pass
        return error

    def result(self, reply: dict) -> object:
        if "error" in reply:
            raise self.error(reply["error"])
        return self.decode(reply.get("result"))


# ------------------------------------------------------------------------------------- the proxy


def _ask(proxy: RemoteObject, op: str, **fields: object) -> object:
    table = proxy._course_table
    if proxy._course_generation != table.generation:
        raise HandleGone(f"this {proxy._course_type} belonged to a student process that was restarted")
    originals = fields.pop("_originals", ())
    reply = table.ask(op, target=proxy._course_id, **fields)
    after = reply.get("args_after") if isinstance(reply, dict) else None
    if isinstance(after, list):
        for arg, state in zip(originals, after, strict=False):
            apply_in_place(arg, state)
    return table.result(reply)


def _operate(table: Table, name: str, *operands: object) -> object:
    first = next((o for o in operands if isinstance(o, RemoteObject)), None)
    if first is not None and first._course_generation != table.generation:
        raise HandleGone("this object belonged to a student process that was restarted")
    reply = table.ask(protocol.OPERATOR, name=name, args=[table.encode(o) for o in operands])
    return table.result(reply)


class RemoteObject:
    """An object on the other side of the wall. Everything done to it is a request to that side."""

    __slots__ = ("_course_table", "_course_id", "_course_type", "_course_generation", "__weakref__")

    def __init__(self, table: Table, ident: int, type_name: str) -> None:
        object.__setattr__(self, "_course_table", table)
        object.__setattr__(self, "_course_id", ident)
        object.__setattr__(self, "_course_type", type_name)
        object.__setattr__(self, "_course_generation", table.generation)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") and name.endswith("__") and name not in ("__name__", "__qualname__"):
            raise AttributeError(name)  # Python's own probes (__array__, __torch_function__, …) stay here
        return _ask(self, protocol.GETATTR, name=name)

    def __setattr__(self, name: str, value: object) -> None:
        _ask(self, protocol.SETATTR, name=name, value=self._course_table.encode(value))

    def __call__(self, *args: object, **kwargs: object) -> object:
        table = self._course_table
        return _ask(
            self,
            protocol.CALL,
            args=[table.encode(a) for a in args],
            kwargs={str(k): table.encode(v) for k, v in kwargs.items()},
            _originals=args,
        )

    def _convert(self, kind: str) -> object:
        return _ask(self, protocol.CONVERT, kind=kind)

    def __bool__(self) -> bool:
        return bool(self._convert("bool") is True)

    def __float__(self) -> float:
        value = self._convert("float")
        if type(value) is not float:
            raise TypeError(f"float() of a {self._course_type} did not give a number")
        return value

    def __int__(self) -> int:
        value = self._convert("int")
        if type(value) is not int:
            raise TypeError(f"int() of a {self._course_type} did not give an integer")
        return value

    def __index__(self) -> int:
        value = self._convert("index")
        if type(value) is not int:
            raise TypeError(f"a {self._course_type} is not an index")
        return value

    def __len__(self) -> int:
        value = self._convert("len")
        if type(value) is not int or value < 0:
            raise TypeError(f"len() of a {self._course_type} did not give a length")
        return value

    def __iter__(self):
        items = self._convert("list")
        if not isinstance(items, list):
            raise TypeError(f"a {self._course_type} is not iterable")
        return iter(items)

    def __str__(self) -> str:
        try:
            text = self._convert("str")
        except Exception:  # noqa: BLE001 - printing a proxy must not fail
            text = None
        return text if isinstance(text, str) else repr(self)

    def __repr__(self) -> str:
        try:
            text = self._convert("repr")
        except Exception:  # noqa: BLE001
            text = None
        return text if isinstance(text, str) else f"<{self._course_type} (student object #{self._course_id})>"

    def __hash__(self) -> int:
        return hash((id(self._course_table), self._course_id))

    def __format__(self, spec: str) -> str:
        if spec:
            return format(float(self), spec)
        return str(self)

    def __dir__(self) -> list[str]:
        return []

    # ``isinstance(x, Handle)`` and ``issubclass(C, Handle)``: asked of the side that owns the class
    def __instancecheck__(self, instance: object) -> bool:
        return _operate(self._course_table, "isinstance", instance, self) is True

    def __subclasscheck__(self, cls: object) -> bool:
        return _operate(self._course_table, "issubclass", cls, self) is True


# ------------------------------------------------------------------ many objects, one request each way
#
# A test that reads every node's ``.grad`` of a 5000-node graph would cross the wall 5000 times. These do
# what their loops do, in one request when every object is the other side's (a current handle of one
# table), and as the plain loop otherwise (in the student's own kernel under stock nbgrader, or for the
# test's own objects). Only plain arguments go in one request; anything else takes the loop, so what a
# call does to an argument in place still comes back (see :func:`_call`).

_NO_DEFAULT = object()


def _one_table(objects: list) -> Table | None:
    """The table every object is a current handle of, if there is one (and it is the grader's)."""
    if not objects or not all(isinstance(o, RemoteObject) for o in objects):
        return None
    table = objects[0]._course_table
    if not table.grader or any(
        o._course_table is not table or o._course_generation != table.generation for o in objects
    ):
        return None
    return table


def _each_request(table: Table, steps: list) -> list:
    results = []
    for start in range(0, len(steps), protocol.EACH_LIMIT):
        reply = table.ask(protocol.EACH, steps=steps[start : start + protocol.EACH_LIMIT])
        chunk = table.result(reply)
        if not isinstance(chunk, list) or len(chunk) != len(steps[start : start + protocol.EACH_LIMIT]):
            raise wire.WireError("the answer to an each request has the wrong length")
        results += chunk
    return results


def attribute_of_each(objects, name: str, default: object = _NO_DEFAULT) -> list:
    """``[getattr(o, name) for o in objects]`` (with ``default`` as getattr's third argument if given)."""
    objects = list(objects)
    table = _one_table(objects)
    if table is None:
        if default is _NO_DEFAULT:
            return [getattr(o, name) for o in objects]
        return [getattr(o, name, default) for o in objects]
    extra = [] if default is _NO_DEFAULT else [table.encode(default)]
    return _each_request(table, [["get", o._course_id, name, *extra] for o in objects])


def set_on_each(objects, name: str, values) -> None:
    """``for o, v in zip(objects, values): setattr(o, name, v)`` (the same number of each)."""
    objects, values = list(objects), list(values)
    if len(objects) != len(values):
        raise ValueError("set_on_each needs one value per object")
    table = _one_table(objects)
    if table is None or not all(_plain(v) for v in values):
        for o, v in zip(objects, values, strict=True):
            setattr(o, name, v)
        return
    pairs = zip(objects, values, strict=True)
    _each_request(table, [["set", o._course_id, name, table.encode(v)] for o, v in pairs])


def call_on_each(objects, method: str) -> list:
    """``[getattr(o, method)() for o in objects]``: a method of each, called in order."""
    objects = list(objects)
    table = _one_table(objects)
    if table is None:
        return [getattr(o, method)() for o in objects]
    return _each_request(table, [["call", o._course_id, method, []] for o in objects])


def call_with_each(function, arguments) -> list:
    """``[function(*args) for args in arguments]``: one function (a class, say) called once per tuple."""
    arguments = [tuple(args) for args in arguments]
    table = _one_table([function])
    if table is None or not all(_plain(a) for args in arguments for a in args):
        return [function(*args) for args in arguments]
    steps = [["call", function._course_id, None, [table.encode(a) for a in args]] for args in arguments]
    return _each_request(table, steps)


def _plain(value: object) -> bool:
    """A number, a string, None or a current handle: nothing a call could change in place."""
    return type(value) in (bool, int, float, str, type(None)) or isinstance(value, RemoteObject)


_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})


def _numpy_array(value: object) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def _real_number(value: object) -> bool:
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        return value.dtype.kind in "biuf"
    return type(value) in (bool, int, float)


def _compared(proxy: RemoteObject, name: str, other: object) -> object:
    """A student's object compared with a number or a NumPy array of the test's: a verdict, so it is not
    the object's to give. Against an array, NumPy compares the numbers it reads from the object, element
    by element; against a number, the object's value as a float (its answer) is compared here. Its own
    ``__eq__`` decides nothing: an object equal to everything is equal to no number."""
    if _numpy_array(other):
        return NotImplemented
    try:
        value = float(proxy)
    except (TypeError, ValueError, OverflowError):
        if name in ("eq", "ne"):
            return name == "ne"
        raise TypeError(f"a {proxy._course_type} cannot be compared with a number") from None
    return getattr(operator, name)(value, other)


def _binary(name: str) -> tuple[Callable, Callable]:
    def forward(self, other):
        numeric = _numpy_array(other) or _real_number(other)
        if name in _COMPARISONS and numeric and self._course_table.grader:
            return _compared(self, name, other)
        return _operate(self._course_table, name, self, other)

    def reflected(self, other):
        return _operate(self._course_table, name, other, self)

    return forward, reflected


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift", "rshift"):
    _forward, _reflected = _binary(_name)
    setattr(RemoteObject, f"__{_name}__", _forward)
    setattr(RemoteObject, f"__r{_name}__", _reflected)
    setattr(RemoteObject, f"__i{_name}__", _binary(f"i{_name}")[0])
for _name, _dunder in (("and_", "and"), ("or_", "or"), ("xor", "xor")):
    _forward, _reflected = _binary(_name)
    setattr(RemoteObject, f"__{_dunder}__", _forward)
    setattr(RemoteObject, f"__r{_dunder}__", _reflected)
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "getitem", "delitem", "contains"):
    setattr(RemoteObject, f"__{_name}__", _binary(_name)[0])
for _name in ("neg", "pos", "abs", "invert"):
    setattr(RemoteObject, f"__{_name}__", lambda self, _n=_name: _operate(self._course_table, _n, self))
RemoteObject.__setitem__ = lambda self, key, value: _operate(self._course_table, "setitem", self, key, value)
RemoteObject.__hash__ = RemoteObject.__dict__["__hash__"]


def apply_in_place(arg: object, state: object) -> None:
    """What the other side's function did to an argument in place (a tensor's values and ``.grad``, a
    NumPy array's values, a list's or a dict's contents), done to ours too."""
    if not isinstance(state, dict):
        return
    if "array" in state:
        _array_in_place(arg, state["array"])
        return
    import torch

    if type(arg) in (list, dict) and "contents" in state:
        contents = wire.decode(state["contents"])
        if isinstance(arg, list) and isinstance(contents, list):
            arg[:] = contents
        elif isinstance(arg, dict) and isinstance(contents, dict):
            arg.clear()
            arg.update(contents)
        return
    if not isinstance(arg, torch.Tensor):
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


def _array_in_place(arg: object, data: object) -> None:
    """A NumPy array of the test's, changed in place by the student's function: the same change here.
    Only values of the same shape and dtype are taken (an in-place edit changes neither)."""
    import numpy as np

    if type(arg) is not np.ndarray or not arg.flags.writeable:
        return
    value = wire.decode(data)
    if type(value) is np.ndarray and value.shape == arg.shape and value.dtype == arg.dtype:
        arg[...] = value


# ----------------------------------------------------------------------- serving the other side


CHECKS = {"isinstance": isinstance, "issubclass": issubclass}  # operators that are not in ``operator``


def serve_object(table: Table, request: dict) -> dict:
    """Answer a request about one of ``table``'s objects (call, attribute, operator, conversion)."""
    op = request.get("op")
    try:
        if op == protocol.EACH and not table.grader:  # only the grader asks about many objects at once
            return _each(table, request.get("steps"))
        if op == protocol.OPERATOR:
            name = request.get("name")
            if name not in protocol.OPERATORS:
                raise wire.WireError(f"unknown operator {name!r}")
            operands = [table.decode(a) for a in request.get("args", [])][:3]
            function = CHECKS.get(name) or getattr(operator, name)
            return {"result": table.encode(function(*operands))}
        target = table.lookup(request.get("target"))
        if op == protocol.CALL:
            return _call(table, target, request)
        if op in (protocol.GETATTR, protocol.SETATTR):
            name = request.get("name")
            if not isinstance(name, str) or (table.grader and name.startswith("_")):
                raise AttributeError(f"attribute {str(name)[:DETAIL_CHARS]!r} is not available")
            if op == protocol.SETATTR:
                if table.grader and isinstance(target, (type, types.ModuleType, types.FunctionType)):
                    raise AttributeError(f"{name!r} cannot be set")
                setattr(target, name, table.decode(request.get("value")))
                return {"result": None}
            value = getattr(target, name)
            if table.grader and not _defined_by_tests(value):
                return {"result": wire.encode(value)}  # plain data, or opaque: nothing else of the grader's
            return {"result": table.encode(value)}
        if op == protocol.CONVERT:
            return {"result": table.encode(_convert(target, request.get("kind")))}
        raise wire.WireError(f"unknown request {op!r}")
    except BaseException as error:  # noqa: BLE001 - whatever the object raised is the answer (SystemExit too)
        if isinstance(error, KeyboardInterrupt):
            raise
        return {"error": error_payload(error)}


def _each(table: Table, steps: object) -> dict:
    """The steps of an ``each`` request, in order, as one answer: the list of their results, or the error of
    the first that raised (what the same loop, one request per object, would have raised)."""
    if not isinstance(steps, list) or len(steps) > protocol.EACH_LIMIT:
        raise wire.WireError("an each request needs a list of steps")
    results = []
    for step in steps:
        if not isinstance(step, list) or len(step) not in (3, 4) or step[0] not in ("get", "set", "call"):
            raise wire.WireError("unknown step")
        kind, target, name = step[0], table.lookup(step[1]), step[2]
        if kind == "call":
            function = target if name is None else getattr(target, str(name))
            args = step[3] if len(step) == 4 and isinstance(step[3], list) else []
            results.append(table.encode(function(*[table.decode(a) for a in args])))
        elif kind == "set":
            setattr(target, str(name), table.decode(step[3] if len(step) == 4 else None))
            results.append(None)
        elif len(step) == 4:
            results.append(table.encode(getattr(target, str(name), table.decode(step[3]))))
        else:
            results.append(table.encode(getattr(target, str(name))))
    return {"result": results}


def _call(table: Table, target: object, request: dict) -> dict:
    if not callable(target):
        raise TypeError(f"'{type(target).__name__}' object is not callable")
    args = [table.decode(a) for a in request.get("args", [])]
    kwargs = {str(k): table.decode(v) for k, v in (request.get("kwargs") or {}).items()}
    before = [_array_bytes(a) for a in args] if not table.grader else []
    result = target(*args, **kwargs)
    reply: dict = {"result": table.encode(result)}
    if not table.grader:  # a student's function may update a tensor argument in place, or set its .grad
        reply["args_after"] = [_state_after(a, b) for a, b in zip(args, before, strict=True)]
    return reply


def _array_bytes(arg: object) -> bytes | None:
    """A NumPy array argument's contents before the call, to tell whether the call changed them."""
    if type(arg).__name__ == "ndarray" and type(arg).__module__ == "numpy":
        return arg.tobytes()
    return None


def _state_after(arg: object, before: bytes | None = None) -> dict | None:
    """What a call left in an argument it may have changed in place: a tensor's values and ``.grad``, a
    NumPy array's values (when they changed), a list's or a dict's contents (as plain data)."""
    if type(arg).__module__.startswith("torch") and hasattr(arg, "grad"):
        return {"value": wire.encode(arg), "grad": wire.encode(arg.grad)}
    if type(arg) in (list, dict):
        return {"contents": wire.encode(arg)}
    if before is not None and arg.tobytes() != before:
        return {"array": wire.encode(arg)}
    return None


def _convert(target: object, kind: object) -> object:
    if kind not in protocol.CONVERSIONS:
        raise wire.WireError(f"unknown conversion {kind!r}")
    if kind == "list":
        return list(itertools.islice(iter(target), protocol.LIST_LIMIT))
    if kind == "index":
        return operator.index(target)
    if kind in ("str", "repr"):
        return (str if kind == "str" else repr)(target)[: wire.MAX_STRING]
    return {"bool": bool, "float": float, "int": int, "len": len, "hash": hash}[kind](target)
