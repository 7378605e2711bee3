"""Each branch of the checker: coercion, shape, NaN/inf, attached tensors, tolerances, messages."""

import numpy as np
import pytest
import torch

from autograder import (
    ATOL,
    RTOL,
    CheckFailed,
    assert_gradient,
    assert_value,
    check_gradient,
    check_value,
    returned,
)
from autograder.checker import reference_gradient


def square_sum(x):
    return (x**2).sum()


X = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.7, -0.4]], dtype=torch.float64)
GRAD = 2 * X


def verdict(report):
    (only,) = report.verdicts
    return only


# ------------------------------------------------------------------------------------- coercion


@pytest.mark.parametrize(
    "given",
    [
        GRAD,
        GRAD.float(),
        GRAD.numpy(),
        GRAD.numpy().astype(np.float32),
        GRAD.tolist(),
        [list(map(torch.tensor, row)) for row in GRAD.tolist()],
        tuple(map(tuple, GRAD.tolist())),
    ],
    ids=["tensor64", "tensor32", "ndarray", "ndarray32", "nested-list", "list-of-0d-tensors", "nested-tuple"],
)
def test_every_numeric_container_is_accepted(given):
    report = check_gradient(given, square_sum, X)
    assert report.ok, report.message()


def test_python_float_and_int_are_scalars():
    assert check_value(2, 2.0).ok
    assert check_value(np.float32(0.5), 0.5).ok
    assert check_value(torch.tensor(3.0), 3).ok


@pytest.mark.parametrize("given", ["2.0", {"a": 1}, object(), True, np.array(["a"]), torch.tensor([1 + 2j])])
def test_wrong_type_is_named(given):
    v = verdict(check_value(given, 1.0, "q"))
    assert v.key == "wrong_type"
    assert "q" in v.message("en") and "cannot be read as numbers" in v.message("en")


def test_none_has_its_own_message():
    v = verdict(check_value(None, 1.0, "q"))
    assert v.key == "is_none"
    assert "returns" in v.message("en") and "return" in v.message("ko")


def test_ragged_list():
    assert verdict(check_value([[1.0, 2.0], [3.0]], [[1, 2], [3, 4]])).key == "ragged"


def test_attached_tensor_is_refused_even_when_its_numbers_are_right():
    w = torch.tensor(1.0, requires_grad=True)
    v = verdict(check_value(w * 2, 2.0, "dw"))
    assert v.key == "attached"
    assert ".detach()" in v.message("en")


def test_attached_tensor_inside_a_list():
    w = torch.tensor(1.0, requires_grad=True)
    assert verdict(check_value([w * 2, 1.0], [2.0, 1.0])).key == "attached"


# ------------------------------------------------------------------------------------------ shape


def test_shape_is_checked_before_values():
    v = verdict(check_gradient(GRAD.T, square_sum, X))
    assert v.key == "shape"
    assert "(2, 3)" in v.message("en") and "(3, 2)" in v.message("en")


def test_one_element_answers_match_scalars_either_way():
    assert check_value([2.0], 2.0).ok
    assert check_value(2.0, torch.tensor([2.0])).ok
    assert verdict(check_value([2.0, 2.0], 2.0)).key == "shape"


# ------------------------------------------------------------------------------------- NaN / inf


def test_nan_and_inf_are_located():
    bad = GRAD.clone()
    bad[1, 2] = float("nan")
    bad[0, 1] = float("inf")
    v = verdict(check_gradient(bad, square_sum, X))
    assert v.key == "not_finite"
    assert v.params == {"bad": "NaN/inf", "count": 2, "index": "[0, 1]"}


def test_reference_that_is_not_finite_is_an_exercise_bug():
    with pytest.raises(ValueError, match="fix the exercise"):
        check_value(1.0, float("nan"))


# ------------------------------------------------------------------------------------- tolerance


def test_tolerance_boundary():
    ref = 3.0
    limit = ATOL + RTOL * ref
    assert check_value(ref + 0.9 * limit, ref).ok
    assert not check_value(ref + 1.1 * limit, ref).ok


def test_explicit_tolerances_are_used():
    assert not check_value(1.01, 1.0).ok
    assert check_value(1.01, 1.0, rtol=0.02).ok


def test_mismatch_names_largest_error_and_where():
    wrong = GRAD.clone()
    wrong[1, 0] += 0.5
    wrong[0, 2] += 0.1
    v = verdict(check_gradient(wrong, square_sum, X))
    assert v.key == "mismatch"
    assert v.params["index"] == "[1, 0]" and v.params["count"] == 2 and v.params["total"] == 6
    assert v.params["expected"] == pytest.approx(3.0) and v.params["given"] == pytest.approx(3.5)
    assert "[1, 0]" in v.message("ko") and "[1, 0]" in v.message("en")


def test_scalar_mismatch_message():
    v = verdict(check_value(-2.0, 2.0, "∂loss/∂w"))
    assert v.key == "mismatch_scalar"
    assert v.message("en").startswith("✘ ∂loss/∂w: wrong value. Expected 2, got -2")


# -------------------------------------------------------------------------------- several inputs


def mul_add(x, y, z):
    return (x + y) * z


def test_several_gradients_in_order_or_by_name():
    assert check_gradient([4.0, 4.0, 3.0], mul_add, -2.0, 5.0, 4.0).ok
    assert check_gradient({"z": 3.0, "x": 4.0, "y": 4.0}, mul_add, -2.0, 5.0, 4.0).ok


def test_each_gradient_gets_its_own_verdict_named_after_the_parameter():
    report = check_gradient([4.0, -4.0, 3.0], mul_add, -2.0, 5.0, 4.0)
    assert [v.key for v in report.verdicts] == ["passed", "mismatch_scalar", "passed"]
    assert [v.name for v in report.verdicts] == ["∂f/∂x", "∂f/∂y", "∂f/∂z"]
    assert not report.ok


def test_wrong_number_of_gradients():
    v = verdict(check_gradient([4.0, 4.0], mul_add, -2.0, 5.0, 4.0))
    assert v.key == "wrong_count"
    assert v.params["expected"] == 3 and v.params["given"] == 2
    assert verdict(check_gradient({"x": 4.0}, mul_add, -2.0, 5.0, 4.0)).key == "wrong_count"


def test_custom_names():
    report = check_gradient(-2.0, lambda w: (1.0 * w - 2.0) ** 2, 1.0, names=["∂loss/∂w"])
    assert report.ok and report.verdicts[0].name == "∂loss/∂w"


# ----------------------------------------------------------------------------------- reference


def test_reference_is_float64_and_ignores_a_disabled_autograd():
    with torch.no_grad():
        (g,) = reference_gradient(square_sum, X.float())
    assert g.dtype == torch.float64
    torch.testing.assert_close(g, GRAD)


def test_unused_input_has_zero_gradient():
    assert check_gradient([3.0, 0.0], lambda a, b: 3 * a, 1.0, 2.0).ok


def test_vector_jacobian_product_with_grad_output():
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    x = torch.tensor([0.5, 1.5], dtype=torch.float64)
    assert check_gradient(v * 2 * x, lambda x: x**2, x, grad_output=v).ok


def test_non_scalar_output_without_grad_output_is_an_exercise_bug():
    with pytest.raises(ValueError, match="grad_output"):
        check_gradient([1.0, 1.0], lambda x: x * 2, [1.0, 2.0])


# ------------------------------------------------------------------------------ assert_* helpers


def test_assert_value_prints_on_success(capsys):
    assert_value(1.0, 1.0, "ŷ")
    out = capsys.readouterr().out
    assert "✔ ŷ: 통과" in out and "✔ ŷ: passed" in out


def test_assert_gradient_raises_an_assertion_with_both_languages():
    with pytest.raises(CheckFailed) as caught:
        assert_gradient(2.0, lambda w: (w - 2.0) ** 2, 1.0)
    assert isinstance(caught.value, AssertionError)
    text = str(caught.value)
    assert "값이 다릅니다" in text and "wrong value" in text


def test_language_can_be_chosen(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "ko")
    text = check_value(2.0, 1.0, "q").message()
    assert "값이 다릅니다" in text and "wrong value" not in text
    monkeypatch.setenv("COURSE_LANG", "en")
    assert "값이" not in check_value(2.0, 1.0, "q").message()


def test_function_that_ignores_its_input_has_zero_gradient():
    assert check_gradient(0.0, lambda x: torch.tensor(3.0, dtype=torch.float64), 1.0).ok
    assert not check_gradient(1.0, lambda x: torch.tensor(3.0, dtype=torch.float64), 1.0).ok


def test_none_for_several_gradients_is_reported_as_none():
    assert verdict(check_gradient(None, mul_add, -2.0, 5.0, 4.0)).key == "is_none"


def test_names_say_L_when_an_upstream_gradient_is_given():
    report = check_gradient([3.0, 2.0], lambda x, y: x * y, 2.0, 3.0, grad_output=1.0)
    assert [v.name for v in report.verdicts] == ["∂L/∂x", "∂L/∂y"] and report.ok


def test_returned_unpacks_or_explains():
    assert returned((1, 2), "a", "b") == (1, 2)
    assert returned([1, 2], "a", "b") == (1, 2)
    assert returned(5.0, "a") == (5.0,)
    with pytest.raises(CheckFailed, match="returned None"):
        returned(None, "a", "b")
    with pytest.raises(CheckFailed, match="returned 3 value"):
        returned((1, 2, 3), "a", "b")
    with pytest.raises(CheckFailed, match="returned 1 value"):
        returned(torch.zeros(2), "a", "b")
