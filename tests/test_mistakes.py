"""The catalogue of known mistakes (mistakes.toml) and the diagnoses in the checker's messages."""

import string

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder import ATOL, RTOL, CheckFailed, assert_gradient, check_gradient, check_value
from autograder.messages import LANGUAGES
from autograder.mistakes import MAX_COUNT, Candidate, catalogue
from tests.glossary import avoided_terms

ENTRIES = sorted(catalogue())
KINDS = {
    "factor",
    "count",
    "inverse_count",
    "repeat",
    "constant",
    "transpose",
    "upstream",
    "across",
    "candidate",
}


def placeholders(template):
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def only(report):
    (verdict,) = report.verdicts
    return verdict


# ------------------------------------------------------------------------------------ the catalogue


def test_the_issue_s_mistakes_are_all_catalogued():
    wanted = {
        "sign_flipped",
        "factor_two",
        "factor_half",
        "sum_not_mean",
        "mean_not_sum",
        "accumulated",
        "transposed",
        "fork_branch_missing",
        "upstream_returned",
        "outer_at_x",
        "per_parameter_batch",
        "grad_not_zeroed",
    }
    assert wanted <= set(ENTRIES)


@pytest.mark.parametrize("key", ENTRIES)
def test_entry_is_bilingual_and_recognisable(key):
    entry = catalogue()[key]
    assert entry["recognise"] in KINDS, key
    assert all(entry[lang].startswith("→ ") for lang in LANGUAGES), key
    assert placeholders(entry["ko"]) == placeholders(entry["en"]), key
    if entry["recognise"] == "factor":
        assert isinstance(entry["factor"], float)


@pytest.mark.parametrize("key", ENTRIES)
def test_korean_text_follows_the_glossary(key):
    used = [word for word in avoided_terms() if word in catalogue()[key]["ko"]]
    assert not used, f"{key} uses {used}; see glossary.md"


# ------------------------------------------------------------------------------ generic recognisers


def square_sum(x):
    return (x**2).sum()


def square_mean(x):
    return (x**2).mean()


X = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.7, -0.4]], dtype=torch.float64)
GRAD = 2 * X


@pytest.mark.parametrize(
    "wrong, ids",
    [
        (-GRAD, ("sign_flipped",)),
        (2 * GRAD, ("factor_two",)),
        (GRAD / 2, ("factor_half",)),
        (5 * GRAD, ("sum_not_mean", "accumulated")),  # no count given: both readings
        (GRAD / 6, ("mean_not_sum",)),
        (GRAD.T, ("transposed",)),  # the shape is wrong as well
        (GRAD + 0.3, ()),
        (-2 * GRAD, ()),  # two mistakes at once are not one catalogued mistake
        (torch.zeros_like(GRAD), ()),
    ],
)
def test_generic_readings(wrong, ids):
    verdict = only(check_gradient(wrong, square_sum, X))
    assert not verdict.ok and verdict.mistakes == ids


def test_a_count_from_the_exercise_picks_the_reading():
    assert only(check_gradient(GRAD / 6, square_mean, X, n=6)).ok
    assert only(check_gradient(GRAD, square_mean, X, n=6)).mistakes == ("sum_not_mean",)
    assert only(check_gradient(GRAD / 36, square_mean, X, n=6)).mistakes == ("mean_not_sum",)
    assert only(check_gradient(GRAD / 2, square_mean, X, n=6)).mistakes == ("accumulated",)  # 3×, not 6×


def test_a_derivation_by_hand_reads_a_whole_factor_as_a_constant_not_as_backward_calls():
    by_hand = {"backward_calls": False}
    assert only(check_gradient(GRAD / 2, square_mean, X, n=6, **by_hand)).mistakes == ("constant_factor",)
    assert only(check_gradient(GRAD, square_mean, X, n=6, **by_hand)).mistakes == ("sum_not_mean",)
    assert only(check_gradient(5 * GRAD, square_sum, X, **by_hand)).mistakes == (
        "sum_not_mean",
        "constant_factor",
    )
    assert only(check_value(3.0, 1.0, **by_hand)).mistakes == ("sum_not_mean", "constant_factor")
    assert only(check_value(3.0, 1.0)).mistakes == ("sum_not_mean", "accumulated")


def test_a_derivation_by_hand_reads_a_factor_two_without_backward_calls():
    """Twice the answer is still factor_two by hand, but its text names no backward() call it never made."""
    by_hand = only(check_gradient(2 * GRAD / 6, square_mean, X, n=6, backward_calls=False))
    with_calls = only(check_gradient(2 * GRAD / 6, square_mean, X, n=6))
    assert by_hand.mistakes == with_calls.mistakes == ("factor_two",)
    for lang in LANGUAGES:
        assert "backward()" not in by_hand.message(lang) and "backward()" in with_calls.message(lang), lang


def test_square_transpose_is_named_only_when_it_differs():
    A = torch.tensor([[0.5, -1.0], [2.0, 0.3]], dtype=torch.float64)
    verdict = only(check_gradient(2 * A.T, square_sum, A))
    assert verdict.key == "mismatch" and verdict.mistakes == ("transposed",)


def test_upstream_gradient_returned():
    report = check_gradient([-1.7, -1.7], lambda x, y: x * y, 0.8, -1.3, grad_output=-1.7)
    assert [v.mistakes for v in report.verdicts] == [("upstream_returned",), ("upstream_returned",)]


def test_per_parameter_batch_factor():
    X4 = torch.tensor([[0.2, -1.1], [0.9, 0.4], [-0.6, 1.3], [1.7, -0.8]], dtype=torch.float64)

    def loss(W, b):
        return ((X4 @ W + b) ** 2).mean()

    W = torch.tensor([[0.5], [-1.0]], dtype=torch.float64)
    b = torch.tensor([0.3], dtype=torch.float64)
    gW, gb = check_gradient_reference(loss, W, b)
    report = check_gradient([4 * gW, gb], loss, W, b, n=4)
    assert report.verdicts[0].mistakes == ("per_parameter_batch",) and report.verdicts[1].ok
    text = report.message("en")
    assert "only this gradient is 4 times" in text and "∂f/∂b is right" in text
    report = check_gradient([gW, gb / 4], loss, W, b, n=4)
    assert report.verdicts[1].mistakes == ("per_parameter_batch",)
    assert "1/4" in report.message("ko")
    report = check_gradient([4 * gW, 4 * gb], loss, W, b, n=4)  # both summed: no mixed reduction
    assert [v.mistakes for v in report.verdicts] == [("sum_not_mean",), ("sum_not_mean",)]


def check_gradient_reference(f, *inputs):
    from autograder.checker import reference_gradient

    return reference_gradient(f, *inputs)


# --------------------------------------------------------------------- candidates from the exercise


def fork(x, y):
    return x * y + torch.maximum(x, y)


def test_registered_candidate_is_named_per_output():
    x, y = 1.5, -0.7
    missing_max = [y, x]  # the max branch dropped: df/dx = y, df/dy = x
    report = check_gradient([y, x + 0.0], fork, x, y, mistakes={"fork_branch_missing": missing_max})
    assert report.verdicts[0].mistakes == ("fork_branch_missing",)
    assert report.verdicts[1].ok  # the max sends nothing to y here: that answer is right
    assert "두 경로" not in report.message() and "분기(fork)" in report.message("ko")


def test_several_candidates_and_none_for_an_output():
    x, y = 1.5, -0.7
    mistakes = {"fork_branch_missing": [y, None], "sign_flipped": [-(y + 1), -x]}
    report = check_gradient([-(y + 1), x], fork, x, y, mistakes=mistakes)
    assert report.verdicts[0].mistakes == ("sign_flipped",)


def test_custom_candidate_brings_its_own_text():
    custom = Candidate(0.25, ko="→ 사용자 정의 실수입니다.", en="→ a custom mistake.")
    verdict = only(check_value(0.25, 0.5, "q", mistakes={"mine": custom}))
    assert verdict.mistakes == ("factor_half", "mine")
    assert verdict.message("en").endswith("→ a custom mistake.")
    with pytest.raises(ValueError, match="not in mistakes.toml"):
        check_value(0.25, 0.5, "q", mistakes={"mine": 0.25})


def test_a_candidate_equal_to_the_answer_at_these_inputs_is_never_claimed():
    verdict = only(check_value(0.7, 0.5, "q", mistakes={"outer_at_x": 0.5}))
    assert verdict.mistakes == ()


def test_check_value_candidates_for_a_trajectory():
    right = np.array([1.0, 1.2, 1.3])
    accumulated = np.array([1.0, 1.2, 1.5])
    verdict = only(check_value(accumulated, right, "history", mistakes={"grad_not_zeroed": accumulated}))
    assert verdict.mistakes == ("grad_not_zeroed",)


def test_a_registered_overflow_is_named_when_the_answer_is_not_finite():
    """A NaN answer is diagnosed by a registered wrong value with NaN in the same places (unit 6)."""
    naive = np.array([[np.nan, 0.0], [0.25, 0.75]])
    right = np.array([[1.0, 0.0], [0.25, 0.75]])
    verdict = only(check_value(naive, right, "p", mistakes={"softmax_not_shifted": naive}))
    assert verdict.key == "not_finite" and verdict.mistakes == ("softmax_not_shifted",)
    elsewhere = np.array([[0.5, np.nan], [0.25, 0.75]])  # NaN in other places: not that mistake
    assert only(check_value(elsewhere, right, "p", mistakes={"softmax_not_shifted": naive})).mistakes == ()
    other = np.array([[np.nan, 0.0], [0.5, 0.5]])  # same hole, other finite numbers
    assert only(check_value(other, right, "p", mistakes={"softmax_not_shifted": naive})).mistakes == ()


# ------------------------------------------------------------------------------------------ messages


def test_message_keeps_the_mismatch_line_and_adds_one_line_per_language(monkeypatch):
    verdict = only(check_gradient(-GRAD, square_sum, X))
    lines = verdict.message().splitlines()
    assert len(lines) == 4 and lines[0].startswith("✘ ∂f/∂x: 값이 다릅니다")
    assert lines[1].startswith("✘ ∂f/∂x: wrong value") and lines[2].startswith("→ 부호가 반대")
    assert lines[3].startswith("→ the sign is flipped")
    monkeypatch.setenv("COURSE_LANG", "en")
    lines = verdict.message().splitlines()
    assert len(lines) == 2 and lines[1].startswith("→ the sign is flipped")
    monkeypatch.setenv("COURSE_LANG", "ko")
    assert verdict.message().splitlines()[1].startswith("→ 부호가 반대")


def test_assert_gradient_raises_with_the_diagnosis():
    with pytest.raises(CheckFailed, match="the sign is flipped"):
        assert_gradient(-GRAD, square_sum, X)


def test_correct_answers_and_plain_mismatches_say_what_they_said():
    assert only(check_gradient(GRAD, square_sum, X)).message("en").startswith("✔ ∂f/∂x: passed")
    assert len(only(check_gradient(GRAD + 1, square_sum, X)).message().splitlines()) == 2


# ------------------------------------------------------------------------- no false diagnosis (property)

FACTORS = (
    [-1.0, 2.0, 0.5] + [float(k) for k in range(3, MAX_COUNT + 1)] + [1 / k for k in range(3, MAX_COUNT + 1)]
)
shapes = st.sampled_from([(), (1,), (3,), (2, 3), (3, 2), (4, 4), (2, 2, 2)])
values = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)


@st.composite
def references(draw):
    shape = draw(shapes)
    seed = draw(st.integers(0, 2**31 - 1))
    reference = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    assume(np.all(np.abs(reference) > 0.05))
    return reference


def close(a, b):
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= ATOL + RTOL * np.abs(b)))


def is_catalogued(answer, reference):
    if any(close(answer, c * reference) for c in FACTORS):
        return True
    return reference.ndim == 2 and close(answer, reference.T.reshape(answer.shape) if answer.size else answer)


@settings(max_examples=300, deadline=None)
@given(references(), st.data())
def test_random_wrong_answers_are_never_labelled(reference, data):
    answer = np.array(data.draw(st.lists(values, min_size=reference.size, max_size=reference.size)))
    answer = answer.reshape(reference.shape)
    assume(not close(answer, reference) and not is_catalogued(answer, reference))
    verdict = only(check_value(answer, reference))
    assert verdict.mistakes == (), (answer, reference, verdict.mistakes)


@settings(max_examples=200, deadline=None)
@given(references(), st.integers(0, 2**31 - 1))
def test_random_arrays_are_never_labelled(reference, seed):
    answer = np.random.default_rng(seed).normal(size=reference.shape)
    assume(not close(answer, reference) and not is_catalogued(answer, reference))
    assert only(check_value(answer, reference)).mistakes == ()


TRANSFORMS = {
    "sign_flipped": lambda r: -r,
    "factor_two": lambda r: 2 * r,
    "factor_half": lambda r: r / 2,
    "sum_not_mean": lambda r: 7 * r,
    "mean_not_sum": lambda r: r / 5,
    "accumulated": lambda r: 3 * r,
    "transposed": lambda r: r.T,
}


@settings(max_examples=300, deadline=None)
@given(references(), st.sampled_from(sorted(TRANSFORMS)))
def test_catalogued_transforms_are_always_labelled(reference, key):
    if key == "transposed":
        assume(reference.ndim == 2 and not close(reference.T, reference))
    answer = TRANSFORMS[key](reference)
    if key == "transposed" and answer.shape != reference.shape:
        verdict = only(check_value(answer, reference))
        assert verdict.key == "shape"
    else:
        verdict = only(check_value(answer, reference))
    assert key in verdict.mistakes, (key, verdict.mistakes)


@pytest.mark.parametrize(
    "answer, ids", [(2.0, ("factor_two", "sum_not_mean")), (0.5, ("factor_half", "mean_not_sum"))]
)
def test_ambiguous_scalar_names_every_reading_that_fits(answer, ids):
    """Decision: when several readings fit (a scalar, a count of 2), all of them are named."""
    assert only(check_value(answer, 1.0, n=2)).mistakes == ids


def test_degenerate_reference_gets_no_factor_reading():
    assert only(check_value(np.array([0.5, -0.2]), np.zeros(2))).mistakes == ()
    assert only(check_value(np.array([1e-7, 3.0]), np.array([1e-7, 0.0]))).mistakes == ()
