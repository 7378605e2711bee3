"""The wire format on its own: plain data in and out, limits, malformed data, opaque values, handles."""

import json
import math

import numpy as np
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
