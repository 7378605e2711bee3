"""The wire format on its own: plain data in and out, limits, malformed data, opaque values, handles."""

import json
import math

import numpy as np
import pandas as pd  # the test extra installs it
import pytest
import torch

from autograder.grading import wire


def roundtrip(value, table=None):
    return wire.decode(json.loads(wire.dumps({"v": wire.encode(value, table=table)}))["v"], table=table)


@pytest.mark.parametrize(
    "value",
    [None, True, 3, -2.5, "한글 text", [1, [2, 3]], (1, "a"), {"k": [1.5]}, {1, 2}, float("inf")],
)
def test_plain_values_cross_unchanged(value):
    assert roundtrip(value) == value


def test_nan_crosses_as_nan():
    assert math.isnan(roundtrip(float("nan")))


def test_tensors_keep_dtype_shape_values_and_requires_grad():
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3).requires_grad_()
    back = roundtrip(t)
    assert back.dtype == torch.float64 and back.shape == (2, 3) and back.requires_grad
    torch.testing.assert_close(back.detach(), t.detach())
    assert roundtrip(torch.tensor([1, 2], dtype=torch.int32)).dtype == torch.int32
    array = roundtrip(np.eye(2, dtype=np.float32))
    assert isinstance(array, np.ndarray) and array.dtype == np.float32


def test_torch_size_and_dtype_are_plain():
    assert roundtrip(torch.zeros(2, 3).shape) == (2, 3)
    assert roundtrip(torch.float64) is torch.float64


def test_other_objects_are_opaque_and_equal_nothing():
    class Liar:
        def __eq__(self, other):
            return True

    back = roundtrip(Liar())
    assert isinstance(back, wire.Opaque) and "Liar" in back.type_name
    assert back != 1 and not (back == back)  # noqa: PLR0124 - equal to nothing, itself included


def test_subclasses_of_plain_types_are_not_trusted():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    assert isinstance(roundtrip(Sneaky(1.0)), wire.Opaque)


def test_limits_deep_long_and_large():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    inner = roundtrip(deep)
    for _ in range(wire.MAX_DEPTH):
        inner = inner[0]
    assert isinstance(inner[0], wire.Opaque)
    assert len(roundtrip("x" * (wire.MAX_STRING + 50))) == wire.MAX_STRING
    huge = wire.encode(torch.zeros(wire.MAX_ELEMENTS + 1))
    assert huge["$t"] == "opaque"
    with pytest.raises(wire.WireError):
        wire.loads(b"x" * (wire.MAX_MESSAGE + 1))


@pytest.mark.parametrize(
    "bad",
    [
        {"$t": "tensor", "dtype": "float64", "shape": [2, 2], "data": [1.0, 2.0]},  # shape vs data
        {"$t": "tensor", "dtype": "float64", "shape": [-1], "data": []},
        {"$t": "tensor", "dtype": "object", "shape": [1], "data": [1]},
        {"$t": "tensor", "dtype": "float64", "shape": [1], "data": ["1"]},
        {"$t": "ndarray", "dtype": "float64", "shape": [True], "data": [1.0]},
        {"$t": "dict", "items": [[1]]},
        {"$t": "tuple"},
        {"$t": "dtype", "name": "nonsense"},
        {"$t": "obj", "id": "7"},
        {"$t": "what"},
        {"$f": "not a number"},
    ],
)
def test_malformed_data_is_refused(bad):
    with pytest.raises((wire.WireError, ValueError)):
        wire.decode(bad)


def test_not_json_or_not_an_object_is_refused():
    for line in (b"{", b"[1, 2]", b'"text"'):
        with pytest.raises(wire.WireError):
            wire.loads(line)


def test_handles_without_a_table_are_opaque():
    assert isinstance(wire.decode({"$t": "obj", "id": 3, "type": "Value"}), wire.Opaque)


def test_hostile_objects_never_make_encode_raise():
    class Hostile:
        def __getattribute__(self, name):
            raise RuntimeError("no")

    assert wire.encode(Hostile())["$t"] == "opaque"


# ---------------------------------------------------------------------------- NumPy and pandas values


def same_array(a, b) -> bool:
    if a.dtype.kind in "Mm":
        return np.array_equal(a.view(np.int64), b.view(np.int64))
    return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6.0).reshape(2, 3),
        np.array(3.5),  # 0-d
        np.zeros((0, 3)),
        np.array([[True, False], [False, True]]),
        np.array([1 + 2j, complex("inf") * 1j, complex("nan")]),
        np.array([1j], dtype=np.complex64),
        np.array([1, -2], dtype=">i4"),  # big-endian
        np.array([2**63 + 5, 0], dtype=np.uint64),
        np.array([-128, 127], dtype=np.int8),
        np.array([0.1, np.inf, -np.inf, np.nan], dtype=np.float16),
        np.array(["ab", "", "한글"]),
        np.array([b"x\xff", b""]),
        np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),
        np.array([5, -3], dtype="timedelta64[ms]"),
        np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::2],  # not contiguous
    ],
    ids=lambda a: f"{a.dtype.str}{list(a.shape)}",
)
def test_numpy_arrays_of_every_plain_dtype_cross_as_arrays(array):
    back = roundtrip(array)
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype and back.shape == array.shape
    assert same_array(back, array)


@pytest.mark.parametrize(
    "scalar",
    [np.float64(2.5), np.float32(-1.25), np.int32(7), np.uint8(255), np.bool_(True), np.complex64(1 - 2j)]
    + [np.str_("hi"), np.datetime64("2021-03-04T05:06"), np.float64("nan")],
    ids=lambda s: type(s).__name__,
)
def test_numpy_scalars_keep_their_type(scalar):
    back = roundtrip(scalar)
    assert type(back) is type(scalar) and back.dtype == scalar.dtype
    assert same_array(np.asarray(back), np.asarray(scalar))


def test_bool_tensors_cross():
    back = roundtrip(torch.tensor([True, False]))
    assert back.dtype == torch.bool and back.tolist() == [True, False]


class Lying(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, "a"], dtype=object),
        np.zeros(2, dtype=np.longdouble),
        np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
        np.ma.array([1.0, 2.0], mask=[False, True]),
        np.zeros(3).view(Lying),
        np.longdouble(1.0),
    ],
    ids=["object", "longdouble", "structured", "masked", "subclass", "longdouble-scalar"],
)
def test_numpy_values_that_are_not_plain_data_are_not_arrays_here(value):
    back = roundtrip(value)
    assert isinstance(back, wire.Opaque), back  # with a handle table, a handle (tests/test_remote.py)
    assert not back == np.zeros(3)


def test_an_array_over_the_size_limit_is_not_sent():
    assert wire.encode(np.zeros(wire.MAX_ELEMENTS + 1))["$t"] == "opaque"
    assert wire.encode(np.zeros(wire.MAX_ELEMENTS // 2 + 1, dtype=complex))["$t"] == "opaque"


@pytest.mark.parametrize(
    "bad",
    [
        {"$t": "ndarray", "dtype": "|O", "shape": [1], "data": [1]},
        {"$t": "ndarray", "dtype": "<f16", "shape": [1], "data": [1.0]},  # long double
        {"$t": "ndarray", "dtype": "float64", "shape": [1], "data": [1.0]},  # a name, not a dtype string
        {"$t": "ndarray", "dtype": "|V8", "shape": [1], "data": [1]},
        {"$t": "ndarray", "dtype": "<f8", "shape": [2], "data": [1.0]},
        {"$t": "ndarray", "dtype": "<f8", "shape": [1] * 40, "data": [1.0]},
        {"$t": "ndarray", "dtype": "<f8", "shape": [-1], "data": []},
        {"$t": "ndarray", "dtype": "|b1", "shape": [1], "data": [1]},
        {"$t": "ndarray", "dtype": "<i8", "shape": [1], "data": [1.5]},
        {"$t": "ndarray", "dtype": "<i8", "shape": [1], "data": [True]},
        {"$t": "ndarray", "dtype": "|i1", "shape": [1], "data": [300]},
        {"$t": "ndarray", "dtype": "<c16", "shape": [1], "data": [1.0]},
        {"$t": "ndarray", "dtype": "<U2", "shape": [1], "data": ["abc"]},
        {"$t": "ndarray", "dtype": "<U2", "shape": [1], "data": [3]},
        {"$t": "ndarray", "dtype": "|S2", "shape": [1], "data": ["한"]},
        {"$t": "ndarray", "dtype": "<U99999999", "shape": [1], "data": ["a"]},
        {"$t": "ndarray", "dtype": "<M8[eon]", "shape": [1], "data": [1]},
        {"$t": "npscalar", "dtype": "<f8", "data": [1.0, 2.0]},
        {"$t": "ndarray", "dtype": "<f8", "shape": [1], "data": [{"$t": "obj", "id": 1}]},
    ],
)
def test_malformed_arrays_are_refused(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad)


def test_pandas_frames_and_series_cross_as_data():
    frame = pd.DataFrame(
        {
            "name": pd.Series(["a", None, "한글"], dtype="str"),
            "x": [1.5, np.nan, -2.0],
            "n": [1, 2, 3],
            "ok": [True, False, True],
            "mixed": pd.Series(["u", 3, None], dtype=object),
            "when": pd.to_datetime(["2020-01-01", "2021-02-03", None]),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    pd.testing.assert_frame_equal(roundtrip(frame), frame)
    series = pd.Series([1.0, 2.0], index=pd.Index(["a", "b"], dtype=object), name="s")
    pd.testing.assert_series_equal(roundtrip(series), series)
    stepped = pd.Series([3, 4, 5], index=pd.RangeIndex(0, 6, 2))
    back = roundtrip(stepped)
    pd.testing.assert_series_equal(back, stepped)
    assert type(back.index) is pd.RangeIndex


@pytest.mark.parametrize(
    "value",
    [
        pd.Series(pd.Categorical(["a", "b"])),
        pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, 2), (3, 4)])),
        pd.Series([object(), 1], dtype=object),
        pd.Series([1, 2], dtype="Int64"),
    ],
    ids=["categorical", "multiindex", "objects", "nullable"],
)
def test_pandas_values_that_are_not_plain_data_are_not_frames_here(value):
    assert isinstance(roundtrip(value), wire.Opaque)


def test_a_pandas_column_rebuilt_here_holds_only_plain_scalars():
    class Table:
        def resolve(self, data):
            raise AssertionError("a handle inside a column must not be resolved")

    column = {"$t": "objects", "items": [{"$t": "obj", "id": 1, "type": "Liar"}]}
    index = {"$t": "range", "start": 0, "stop": 1, "step": 1, "name": {"v": None}}
    with pytest.raises(wire.WireError):
        wire.decode({"$t": "series", "values": column, "index": index, "name": {"v": None}}, table=Table())
    with pytest.raises(wire.WireError):
        wire.decode({"$t": "series", "values": column, "index": {"$t": "range"}, "name": None})
