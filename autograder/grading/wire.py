"""Plain data across the sandbox wall: values as JSON, never pickle.

What a student's code returns is turned into JSON inside the sandbox and read back by the grader as
numbers, strings and containers only. Tensors and arrays travel as dtype, shape and a flat list of numbers.
Any other object stays where it is: with a handle table (:class:`autograder.grading.remote.Table`) it
travels as a handle, ``{"$t": "obj", "id": …}``, that the other side turns into a proxy, and a proxy sent
back travels as ``{"$t": "yours", "id": …}``; without one it becomes an :class:`Opaque` that remembers only
its type name, so an object whose ``__eq__`` is always true arrives as something that equals nothing.
Sizes and depth are bounded on both sides.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_ELEMENTS = 2_000_000  # numbers in one message
MAX_DEPTH = 20
MAX_STRING = 10_000
MAX_MESSAGE = 64 * 1024 * 1024  # bytes in one line of the protocol


class WireError(ValueError):
    """Data from the sandbox that does not follow the format."""


class Opaque:
    """A value the sandbox could not send as plain data; only its type name came across."""

    def __init__(self, type_name: str) -> None:
        self.type_name = str(type_name)[:200]

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def _number(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _unnumber(x: Any) -> float:
    if isinstance(x, dict):
        return float(x["$f"])
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise WireError("not a number")
    return float(x)


# -------------------------------------------------------------------------- encode (in the sandbox)


def encode(value: object, depth: int = 0, budget: list[int] | None = None, table: Any = None) -> Any:
    """``value`` as JSON-ready plain data (runs in the sandbox; must never raise). ``table`` turns
    objects that are not plain data into handles (``table.refer(value)`` gives the handle or None)."""
    budget = budget if budget is not None else [MAX_ELEMENTS]
    if depth > MAX_DEPTH:
        return {"$t": "opaque", "type": "too deep"}
    try:
        return _encode(value, depth, budget, table)
    except Exception:  # noqa: BLE001 - a hostile object may raise anything; it becomes opaque
        try:
            name = type(value).__qualname__
        except Exception:  # noqa: BLE001
            name = "object"
        return {"$t": "opaque", "type": str(name)}


MAX_ITEMS = 100_000  # items of one list, tuple, set or dict


def _encode(value: object, depth: int, budget: list[int], table: Any) -> Any:
    kind = type(value)  # exact types only: a subclass may override anything
    if value is None or kind is bool or kind is str:
        return value if kind is not str else value[:MAX_STRING]
    if kind is int:
        return value if abs(value) < 2**63 else float(value)
    if kind is float:
        return _number(value)
    if kind in (list, tuple, set, frozenset):
        items = [encode(v, depth + 1, budget, table) for v in list(value)[:MAX_ITEMS]]
        if kind is list:
            return items
        return {"$t": "tuple" if kind is tuple else "set", "items": items}
    if kind is dict:
        pairs = list(value.items())[:MAX_ITEMS]
        return {
            "$t": "dict",
            "items": [
                [encode(k, depth + 1, budget, table), encode(v, depth + 1, budget, table)] for k, v in pairs
            ],
        }
    module = getattr(kind, "__module__", "")
    if module == "torch" and kind.__name__ == "Size":
        return {"$t": "tuple", "items": [int(n) for n in value]}
    if module == "torch" and kind.__name__ == "dtype":
        return {"$t": "dtype", "name": str(value).removeprefix("torch.")}
    if module.startswith("torch") and kind.__name__ in ("Tensor", "Parameter"):
        import torch

        t = torch.Tensor.detach(value)
        if t.is_sparse:
            t = t.to_dense()
        return _array("tensor", t.cpu().numpy() if not t.is_complex() else None, value, budget)
    if module == "numpy" and kind.__name__ == "ndarray":
        return _array("ndarray", value, None, budget)
    if module == "numpy" and hasattr(value, "dtype") and hasattr(value, "item"):  # NumPy scalars
        return encode(value.item(), depth, budget)
    if table is not None:
        handle = table.refer(value)
        if handle is not None:
            return handle
    return {"$t": "opaque", "type": f"{module}.{kind.__qualname__}" if module else kind.__qualname__}


def _array(tag: str, array: Any, tensor: Any, budget: list[int]) -> Any:
    import numpy as np

    if array is None or array.dtype.kind not in "biuf":
        return {"$t": "opaque", "type": f"{tag} of {getattr(array, 'dtype', 'complex')}"}
    budget[0] -= array.size
    if budget[0] < 0:
        return {"$t": "opaque", "type": f"{tag} too large"}
    flat = np.asarray(array).reshape(-1)
    data = flat.tolist() if array.dtype.kind in "biu" else [_number(float(x)) for x in flat]
    out = {"$t": tag, "dtype": str(array.dtype), "shape": list(array.shape), "data": data}
    if tensor is not None:
        out["requires_grad"] = bool(tensor.requires_grad)
        out["grad_fn"] = type(tensor.grad_fn).__name__ if tensor.grad_fn is not None else None
        out["dtype"] = str(tensor.dtype).removeprefix("torch.")
    return out


def dumps(message: dict) -> str:
    return json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


# ------------------------------------------------------------------------------- decode (the grader)

_DTYPES = {
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
}


def loads(line: bytes | str) -> dict:
    if len(line) > MAX_MESSAGE:
        raise WireError("message too large")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not JSON: {error}") from None
    if not isinstance(message, dict):
        raise WireError("not an object")
    return message


def decode(data: Any, depth: int = 0, table: Any = None) -> object:
    """Plain data from the sandbox back into Python values; tensors become torch tensors; handles become
    proxies (or, for a handle to one of our own objects, that object) through ``table``."""
    if depth > MAX_DEPTH + 2:
        raise WireError("too deep")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1, table) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"unexpected {type(data).__name__}")
    if "$f" in data:
        return _unnumber(data)
    tag = data.get("$t")
    if tag == "tuple":
        return tuple(decode(v, depth + 1, table) for v in _items(data))
    if tag == "set":
        items = [decode(v, depth + 1, table) for v in _items(data)]
        try:
            return set(items)
        except TypeError:
            return Opaque("set")
    if tag == "dict":
        out = {}
        for pair in _items(data):
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("bad dict item")
            key = decode(pair[0], depth + 1, table)
            try:
                out[key] = decode(pair[1], depth + 1, table)
            except TypeError:
                return Opaque("dict")
        return out
    if tag in ("tensor", "ndarray"):
        return _unarray(tag, data)
    if tag == "opaque":
        return Opaque(str(data.get("type", "object")))
    if tag == "dtype":
        import torch

        dtype = getattr(torch, str(data.get("name")), None)
        if not isinstance(dtype, torch.dtype):
            raise WireError("bad dtype")
        return dtype
    if tag in ("obj", "yours"):
        if not isinstance(data.get("id"), int) or isinstance(data.get("id"), bool):
            raise WireError("bad handle")
        if table is None:
            return Opaque(str(data.get("type", "object")))
        return table.resolve(data)
    raise WireError(f"unknown tag {tag!r}")


def _items(data: dict) -> list:
    items = data.get("items")
    if not isinstance(items, list):
        raise WireError("items missing")
    return items


def _unarray(tag: str, data: dict) -> object:
    import numpy as np
    import torch

    dtype, shape, flat = data.get("dtype"), data.get("shape"), data.get("data")
    if dtype not in _DTYPES or not isinstance(shape, list) or not isinstance(flat, list):
        raise WireError("bad array")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise WireError("bad shape")
    if math.prod(shape) != len(flat) or len(flat) > MAX_ELEMENTS:
        raise WireError("shape and data disagree")
    numbers = [_unnumber(x) for x in flat]
    np_dtype = "float32" if dtype == "bfloat16" else dtype
    array = np.array(numbers, dtype=np.float64).astype(np_dtype).reshape(shape)
    if tag == "ndarray":
        return array
    tensor = torch.from_numpy(array.copy()).to(getattr(torch, dtype))
    if data.get("requires_grad") and tensor.is_floating_point():
        tensor.requires_grad_(True)
        if data.get("grad_fn"):
            tensor = tensor.clone()  # attached to a graph, as it was in the sandbox
    return tensor
