"""Plain data across the sandbox wall: values as JSON, never pickle.

What a student's code returns is turned into JSON inside the sandbox and read back by the grader as
numbers, strings and containers only. Tensors and NumPy arrays travel as dtype, shape and a flat list of
elements: arrays of every plain dtype (bool, integers, floats, complex, fixed-width text and bytes, dates
and durations; any shape, 0-d included), NumPy scalars as themselves (``np.float64`` stays one), and pandas
Series and DataFrames as their columns and index. The grader rebuilds each from the elements, after
checking the dtype and every element against what the dtype holds; an array subclass, an object array, a
structured or long-double one, a pandas value with other columns (categories, objects that are not plain
scalars) is not plain data. Any other object stays where it is: with a handle table
(:class:`autograder.grading.remote.Table`) it travels as a handle, ``{"$t": "obj", "id": …}``, that the
other side turns into a proxy (a module as ``{"$t": "module", …}``, with its name), and a proxy sent back
travels as ``{"$t": "yours", "id": …}``; without one it becomes an :class:`Opaque` that remembers only its
type name, so an object whose ``__eq__`` is always true arrives as something that equals nothing.
Sizes and depth are bounded on both sides.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .text import DETAIL_CHARS, NAME_CHARS

MAX_ELEMENTS = 2_000_000  # numbers in one message
MAX_DEPTH = 20
MAX_STRING = 10_000
MAX_MESSAGE = 64 * 1024 * 1024  # bytes in one line of the protocol


class WireError(ValueError):
    """Data from the sandbox that does not follow the format."""


class Opaque:
    """A value the sandbox could not send as plain data; only its type name came across."""

    def __init__(self, type_name: str) -> None:
        self.type_name = str(type_name)[:NAME_CHARS]

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
        if x.get("$f") not in ("nan", "inf", "-inf"):
            raise WireError("not a number")
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
    if module == "numpy" or module.startswith("pandas"):
        plain = _numpy_or_pandas(value, kind, budget)
        if plain is not None:
            return plain
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


# ------------------------------------------------------------------- NumPy arrays and scalars, pandas

# A dtype that is plain data, as ``dtype.str`` spells it: bool, integers, floats up to 64 bits, complex up
# to 128, fixed-width text and bytes, dates and durations. Object, structured and long-double ones are not.
_NP_DTYPE = re.compile(
    r"[<>|=]?(b1|[iu][1248]|f[248]|c8|c16|U[1-9][0-9]{0,4}|S[1-9][0-9]{0,4}"
    r"|[Mm]8(\[[1-9]?[0-9]{0,2}(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?)\Z"
)
MAX_DIMS = 32
_SCALARS = (type(None), bool, int, float, str)  # what an object column of a pandas frame may hold


def _plain_dtype(dtype: Any) -> bool:
    try:
        return dtype.fields is None and dtype.subdtype is None and bool(_NP_DTYPE.match(dtype.str))
    except Exception:  # noqa: BLE001
        return False


def _cost(dtype: Any, size: int) -> int:
    """What an array costs of the message's budget: its numbers, or its characters."""
    if dtype.kind == "c":
        return 2 * size
    if dtype.kind in "US":
        return size * max(1, dtype.itemsize // (4 if dtype.kind == "U" else 1))
    return size


def _elements(flat: Any, np: Any) -> list:
    kind = flat.dtype.kind
    if kind in "biuU":
        return flat.tolist()
    if kind == "S":
        return [b.decode("latin-1") for b in flat.tolist()]
    if kind == "f":
        return [_number(x) for x in flat.astype(np.float64).tolist()]
    if kind == "c":
        out = []
        for z in flat.astype(np.complex128).tolist():
            out += [_number(z.real), _number(z.imag)]
        return out
    return flat.view(np.int64).tolist()  # dates and durations: their integer count of units


def _ndarray(array: Any, budget: list[int], tag: str = "ndarray") -> dict | None:
    """An exact ``numpy.ndarray`` (or scalar, as a 0-d array) of a plain dtype as data; None otherwise."""
    import numpy as np

    if not _plain_dtype(array.dtype) or array.ndim > MAX_DIMS:
        return None
    cost = _cost(array.dtype, array.size)
    if cost > budget[0]:
        return None
    budget[0] -= cost
    flat = np.ascontiguousarray(array).reshape(-1)
    out = {"$t": tag, "dtype": array.dtype.str, "data": _elements(flat, np)}
    if tag == "ndarray":
        out["shape"] = [int(n) for n in array.shape]
    return out


def _numpy_or_pandas(value: Any, kind: type, budget: list[int]) -> dict | None:
    import sys

    np = sys.modules.get("numpy")
    if np is None:
        return None
    if kind is np.ndarray:
        return _ndarray(value, budget)
    if isinstance(value, np.generic) and np.dtype(kind).type is kind:  # a NumPy scalar, not a subclass
        return _ndarray(np.asarray(value), budget, tag="npscalar")
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if kind is pd.Series:
        column, index = _column(value, budget, np, pd), _index(value.index, budget, np, pd)
        name = _label(value.name)
        if column is None or index is None or name is None:
            return None
        return {"$t": "series", "values": column, "index": index, "name": name}
    if kind is pd.DataFrame:
        index, columns = _index(value.index, budget, np, pd), _index(value.columns, budget, np, pd)
        if index is None or columns is None or value.shape[1] > MAX_ITEMS:
            return None
        data = [_column(value.iloc[:, i], budget, np, pd) for i in range(value.shape[1])]
        if any(c is None for c in data):
            return None
        return {"$t": "frame", "index": index, "columns": columns, "data": data}
    return None


def _label(name: Any) -> Any:
    """A series' or an index's name, when plain (else None: the whole value stays a handle)."""
    if type(name) in _SCALARS:
        return {"v": encode(name)}
    if type(name) is tuple and len(name) <= 20 and all(type(n) in _SCALARS for n in name):
        return {"v": encode(name)}
    return None


def _column(values: Any, budget: list[int], np: Any, pd: Any) -> dict | None:
    """One pandas column (or index) as data: a NumPy array of a plain dtype, text, or an object column
    of plain scalars (str, int, float, bool, None); None for anything else (categories, objects, …)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind != "O":
            return _ndarray(np.asarray(values.to_numpy()), budget)
        items = values.to_numpy().tolist()
        if len(items) > budget[0] or not all(type(v) in _SCALARS for v in items):
            return None
        budget[0] -= len(items)
        return {"$t": "objects", "items": [encode(v) for v in items]}
    if type(dtype).__name__ == "StringDtype" and str(dtype) in ("str", "string"):
        missing = np.asarray(values.isna()).tolist()
        pairs = zip(values.tolist(), missing, strict=True)
        items = [None if gone else str(v)[:MAX_STRING] for v, gone in pairs]
        if len(items) > budget[0]:
            return None
        budget[0] -= len(items)
        return {"$t": "strings", "dtype": str(dtype), "items": items}
    return None


def _index(index: Any, budget: list[int], np: Any, pd: Any) -> dict | None:
    name = _label(index.name)
    if name is None:
        return None
    if type(index) is pd.RangeIndex:
        return {"$t": "range", "start": index.start, "stop": index.stop, "step": index.step, "name": name}
    if type(index) not in (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex):
        return None  # a MultiIndex, a categorical or an interval index: a handle
    column = _column(index, budget, np, pd)
    if column is None:
        return None
    return {"$t": "index", "values": column, "name": name}


def _shape(shape: Any) -> list[int]:
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise WireError("bad shape")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ELEMENTS for n in shape):
        raise WireError("bad shape")
    return shape


def _np_dtype(name: Any) -> Any:
    import numpy as np

    if not isinstance(name, str) or not _NP_DTYPE.match(name):
        raise WireError("bad array dtype")
    dtype = np.dtype(name)
    if not _plain_dtype(dtype):
        raise WireError("bad array dtype")
    return dtype


def _unndarray(data: dict, scalar: bool = False) -> object:
    """A NumPy array (or scalar) rebuilt here from plain data: its dtype checked against the plain ones,
    every element checked to be of the kind the dtype says."""
    import numpy as np

    dtype = _np_dtype(data.get("dtype"))
    shape = [] if scalar else _shape(data.get("shape"))
    flat = data.get("data")
    size = math.prod(shape)
    width = 2 if dtype.kind == "c" else 1
    if not isinstance(flat, list) or len(flat) != size * width or size > MAX_ELEMENTS:
        raise WireError("shape and data disagree")
    kind = dtype.kind
    try:
        if kind == "b":
            if not all(type(x) is bool for x in flat):
                raise WireError("not a boolean")
            array = np.array(flat, dtype=dtype)
        elif kind in "iuMm":
            if not all(type(x) is int for x in flat):
                raise WireError("not an integer")
            array = np.array(flat, dtype=dtype) if kind in "iu" else np.array(flat, np.int64).view(dtype)
        elif kind == "f":
            array = np.array([_unnumber(x) for x in flat], dtype=np.float64).astype(dtype)
        elif kind == "c":
            parts = np.array([_unnumber(x) for x in flat], dtype=np.float64)
            array = np.empty(size, dtype=np.complex128)
            array.real, array.imag = parts[0::2], parts[1::2]
            array = array.astype(dtype)
        else:
            longest = dtype.itemsize // (4 if kind == "U" else 1)
            if not all(type(x) is str and len(x) <= longest for x in flat):
                raise WireError("not text, or longer than its dtype holds")
            array = np.array(flat if kind == "U" else [x.encode("latin-1") for x in flat], dtype=dtype)
            if array.dtype != dtype:  # longer than the dtype holds
                raise WireError("text too long for its dtype")
        array = array.reshape(shape)
    except (OverflowError, ValueError, TypeError, UnicodeEncodeError) as error:
        raise WireError(f"bad array: {str(error)[:DETAIL_CHARS]}") from None
    return array[()] if scalar else array


def _unlabel(data: Any) -> Any:
    if not isinstance(data, dict) or "v" not in data:
        raise WireError("bad label")
    name = decode(data["v"])
    if type(name) in _SCALARS or (type(name) is tuple and all(type(n) in _SCALARS for n in name)):
        return name
    raise WireError("bad label")


def _uncolumn(data: Any, np: Any, pd: Any) -> tuple[Any, Any]:
    """A column's values (an array) and its dtype (object for an object column, else that of the values)
    from :func:`_column`'s data; only plain scalars, never handles."""
    if not isinstance(data, dict):
        raise WireError("bad column")
    tag = data.get("$t")
    if tag == "ndarray":
        array = _unndarray(data)
        if array.ndim != 1:
            raise WireError("bad column")
        return array, None
    items = data.get("items")
    if not isinstance(items, list) or len(items) > MAX_ELEMENTS:
        raise WireError("bad column")
    if tag == "objects":
        values = [decode(v) for v in items]
        if not all(type(v) in _SCALARS for v in values):
            raise WireError("bad column")
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column, object
    if tag == "strings" and data.get("dtype") in ("str", "string"):
        if not all(v is None or type(v) is str for v in items):
            raise WireError("bad column")
        return pd.array(items, dtype=data["dtype"]), None
    raise WireError("bad column")


def _unindex(data: Any, np: Any, pd: Any) -> Any:
    if not isinstance(data, dict):
        raise WireError("bad index")
    name = _unlabel(data.get("name"))
    if data.get("$t") == "range":
        bounds = [data.get(k) for k in ("start", "stop", "step")]
        if not all(type(b) is int for b in bounds) or bounds[2] == 0:
            raise WireError("bad index")
        index = pd.RangeIndex(*bounds, name=name)
        if len(index) > MAX_ELEMENTS:
            raise WireError("bad index")
        return index
    if data.get("$t") == "index":
        values, dtype = _uncolumn(data.get("values"), np, pd)
        return pd.Index(values, dtype=dtype, name=name)
    raise WireError("bad index")


def _unpandas(data: dict) -> object:
    """A pandas Series or DataFrame rebuilt here from plain data (an opaque value without pandas)."""
    try:
        import pandas as pd
    except ImportError:
        return Opaque(f"pandas {data.get('$t')}")
    import numpy as np

    try:
        if data.get("$t") == "series":
            (values, dtype), index = (
                _uncolumn(data.get("values"), np, pd),
                _unindex(data.get("index"), np, pd),
            )
            if len(values) != len(index):
                raise WireError("bad series")
            series = pd.Series(values, dtype=dtype, name=_unlabel(data.get("name")))
            series.index = index
            return series
        index, columns = _unindex(data.get("index"), np, pd), _unindex(data.get("columns"), np, pd)
        columns_data = data.get("data")
        if not isinstance(columns_data, list) or len(columns_data) != len(columns):
            raise WireError("bad frame")
        values = [_uncolumn(c, np, pd) for c in columns_data]
        if any(len(v) != len(index) for v, _ in values):
            raise WireError("bad frame")
        frame = pd.DataFrame({i: pd.Series(v, dtype=dtype) for i, (v, dtype) in enumerate(values)})
        frame.index, frame.columns = index, columns
        return frame
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        raise WireError(f"bad pandas value: {str(error)[:DETAIL_CHARS]}") from None


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
    if tag == "tensor":
        return _unarray(tag, data)
    if tag == "ndarray":
        return _unndarray(data)
    if tag == "npscalar":
        return _unndarray(data, scalar=True)
    if tag in ("series", "frame"):
        return _unpandas(data)
    if tag == "opaque":
        return Opaque(str(data.get("type", "object")))
    if tag == "dtype":
        import torch

        dtype = getattr(torch, str(data.get("name")), None)
        if not isinstance(dtype, torch.dtype):
            raise WireError("bad dtype")
        return dtype
    if tag in ("obj", "yours", "module"):
        if not isinstance(data.get("id"), int) or isinstance(data.get("id"), bool):
            raise WireError("bad handle")
        if table is None:
            return Opaque(str(data.get("type", "object")))
        if tag == "module":
            return table.module(data)
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
    if dtype == "bool":
        if not all(type(x) is bool for x in flat):
            raise WireError("not a boolean")
        numbers = [float(x) for x in flat]
    else:
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
