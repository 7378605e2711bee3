"""Recognise known mistakes from the numbers, using the catalogue in ``mistakes.toml``.

When an answer fails, the checker asks :func:`diagnose` whether it is a catalogued mistake: a constant
factor between the answer and the reference (−1, 2, ½, a count n or 1/n, k backward calls, or, where the
exercise makes no backward() call, a whole factor k from its constants), a transposed matrix, the
upstream gradient returned as is, or one of the wrong values the exercise registered for these inputs
(``mistakes={"fork_branch_missing": value}``). A reading is claimed only when the whole answer equals the
transformed reference within the checker's own tolerance, so a random wrong answer gets no diagnosis.
When several readings fit (a scalar, or a count of 2), all of them are named.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from . import recording
from .messages import languages

MAX_COUNT = 64  # whole-number factors up to this are read as a count (sum vs mean, k backward calls)
COUNT_KINDS = ("count", "inverse_count", "repeat", "constant")


@cache
def catalogue() -> dict[str, dict]:
    """Every mistake id mapped to its entry: ``recognise``, parameters, ``ko`` and ``en`` templates."""
    text = resources.files(__package__).joinpath("mistakes.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Candidate:
    """A wrong value an exercise registers, with its own ``ko``/``en`` text when its id is not catalogued."""

    value: object
    ko: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """One reading of a wrong answer: a catalogue id and the numbers its text needs."""

    id: str
    params: dict = field(default_factory=dict)
    texts: tuple[tuple[str, str], ...] = ()  # (lang, template) for a custom id

    def text(self, code: str) -> str:
        """The hint in one language (``ko``, ``en``)."""
        templates = dict(self.texts) or catalogue()[self.id]
        return templates[code].format(**self.params)

    def message(self, lang: str | None = None) -> str:
        recording.mistake(self.id, self.text)  # named in a message: `course grade` keeps the id
        return "\n".join(self.text(code) for code in languages(lang))


def _close(answer: np.ndarray, target: np.ndarray, rtol: float, atol: float) -> bool:
    return bool(np.all(np.abs(answer - target) <= atol + rtol * np.abs(target)))


def _same_shape(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape or (a.size == 1 and b.size == 1)


def _factor_readings(
    answer: np.ndarray,
    reference: np.ndarray,
    rtol: float,
    atol: float,
    n: int | None,
    backward_calls: bool = True,
) -> list[Diagnosis]:
    """The constant factors c with ``answer ≈ c·reference``, as catalogue readings. A whole factor k is read
    as k backward() calls only where the answer could have made them (``backward_calls``); in a derivation
    by hand it is a constant of the derivation (``constant_factor``)."""
    if answer.shape != reference.shape:
        return []
    tolerance = atol + rtol * np.abs(reference)
    clear = np.abs(reference) > 10 * tolerance  # elements that can tell one factor from another
    if not clear.any():
        return []
    ratio = float(np.median(answer[clear] / reference[clear]))
    trials: list[tuple[float, str, dict]] = []
    texts: dict[str, tuple[tuple[str, str], ...]] = {}  # a factor's text without backward() calls, by hand
    for key, entry in catalogue().items():
        if entry["recognise"] == "factor":
            trials.append((float(entry["factor"]), key, {}))
            if not backward_calls and "en_by_hand" in entry:
                texts[key] = (("ko", entry["ko_by_hand"]), ("en", entry["en_by_hand"]))
    whole = round(ratio) if np.isfinite(ratio) and abs(ratio) < 2 * MAX_COUNT else 0
    inverse = round(1 / ratio) if np.isfinite(ratio) and abs(ratio) > 1 / (2 * MAX_COUNT) else 0
    repeated = "accumulated" if backward_calls else "constant_factor"
    if n is not None and n >= 2:
        trials += [(float(n), "sum_not_mean", {"n": n}), (1 / n, "mean_not_sum", {"n": n})]
        if 3 <= whole <= MAX_COUNT and whole != n:
            trials.append((float(whole), repeated, {"k": whole}))
    else:
        if 3 <= whole <= MAX_COUNT:
            trials += [
                (float(whole), "sum_not_mean", {"n": whole}),
                (float(whole), repeated, {"k": whole}),
            ]
        if 3 <= inverse <= MAX_COUNT:
            trials.append((1 / inverse, "mean_not_sum", {"n": inverse}))
    return [
        Diagnosis(key, params, texts.get(key, ()))
        for c, key, params in trials
        if _close(answer, c * reference, rtol, atol)
    ]


def diagnose(
    answer: np.ndarray,
    reference: np.ndarray,
    *,
    rtol: float,
    atol: float,
    n: int | None = None,
    upstream: np.ndarray | None = None,
    candidates: Iterable[tuple[str, np.ndarray, Candidate | None]] = (),
    backward_calls: bool = True,
) -> tuple[Diagnosis, ...]:
    """Every catalogued reading of a wrong ``answer`` (finite, float64) against ``reference``.

    ``candidates`` are the exercise's registered wrong values for this output: (id, value, its Candidate
    when it brings its own text). ``backward_calls=False`` says the answer was derived by hand, so that no
    factor is read as gradients accumulated over backward() calls. Returns () when nothing fits: then the
    plain mismatch is all there is.
    """
    found: list[Diagnosis] = []
    same = _same_shape(answer, reference)
    if same:
        shaped = answer.reshape(reference.shape)
        found += _factor_readings(shaped, reference, rtol, atol, n, backward_calls)
        if (
            reference.ndim == 2
            and reference.shape[0] == reference.shape[1]
            and not _close(reference.T, reference, rtol, atol)
            and _close(shaped, reference.T, rtol, atol)
        ):
            found.append(Diagnosis("transposed"))
        if (
            upstream is not None
            and _same_shape(upstream, reference)
            and not _close(upstream.reshape(reference.shape), reference, rtol, atol)
            and _close(shaped, upstream.reshape(reference.shape), rtol, atol)
        ):
            found.append(Diagnosis("upstream_returned"))
    elif answer.ndim == 2 and answer.shape == reference.shape[::-1] and reference.ndim == 2:
        if _close(answer.T, reference, rtol, atol):
            found.append(Diagnosis("transposed"))
    for key, value, custom in candidates:
        if not _same_shape(answer, value):
            continue
        if _same_shape(value, reference) and _close(value.reshape(reference.shape), reference, rtol, atol):
            continue  # at these inputs the mistake gives the right answer: it cannot be what happened
        if _close(answer.reshape(value.shape), value, rtol, atol):
            texts = (("ko", custom.ko), ("en", custom.en)) if custom is not None and custom.ko else ()
            found.append(Diagnosis(key, {}, texts))
    unique: dict[str, Diagnosis] = {}
    for diagnosis in found:
        unique.setdefault(diagnosis.id, diagnosis)
    return tuple(unique.values())


def diagnose_not_finite(
    answer: np.ndarray,
    candidates: Iterable[tuple[str, np.ndarray, Candidate | None]],
    *,
    rtol: float,
    atol: float,
) -> tuple[Diagnosis, ...]:
    """The registered mistakes that give NaN or inf exactly where ``answer`` does (an overflow, say, of a
    softmax computed without its max shift), and the answer's finite numbers elsewhere."""
    found: dict[str, Diagnosis] = {}
    for key, value, custom in candidates:
        if value.shape != answer.shape or np.isfinite(value).all():
            continue
        same_holes = np.array_equal(np.isnan(value), np.isnan(answer)) and np.array_equal(
            np.isinf(value), np.isinf(answer)
        )
        finite = np.isfinite(answer)
        if same_holes and _close(answer[finite], value[finite], rtol, atol):
            texts = (("ko", custom.ko), ("en", custom.en)) if custom is not None and custom.ko else ()
            found.setdefault(key, Diagnosis(key, {}, texts))
    return tuple(found.values())


def across_outputs(readings: tuple[Diagnosis, ...], right: Iterable[str]) -> tuple[Diagnosis, ...]:
    """A count reading on one output while others of the same check are right: a per-parameter batch
    factor (summed for one parameter, averaged for another) replaces the count readings."""
    right = list(right)
    counts = [d for d in readings if d.id in ("sum_not_mean", "mean_not_sum")]
    if not right or not counts:
        return readings
    first = counts[0]
    factor = str(first.params["n"]) if first.id == "sum_not_mean" else f"1/{first.params['n']}"
    kept = [
        d for d in readings if d.id not in ("sum_not_mean", "mean_not_sum", "accumulated", "constant_factor")
    ]
    return (Diagnosis("per_parameter_batch", {"factor": factor, "right": ", ".join(right)}), *kept)


def registered(mistakes: object) -> list[tuple[str, object, Candidate | None]]:
    """An exercise's ``mistakes=`` as (id, value, Candidate or None), checked against the catalogue.

    ``mistakes`` is a mapping id → wrong value, or a list of (id, wrong value) pairs when one mistake can
    happen in several ways (either branch of a fork missing)."""
    if not mistakes:
        return []
    pairs = mistakes.items() if isinstance(mistakes, Mapping) else mistakes  # pairs: an id may repeat
    out = []
    for key, value in pairs:
        custom = value if isinstance(value, Candidate) else None
        if key not in catalogue() and not (custom and custom.ko and custom.en):
            raise ValueError(
                f"mistake {key!r} is not in mistakes.toml: register it as Candidate(value, ko=..., en=...)"
            )
        out.append((key, custom.value if custom else value, custom))
    return out


__all__ = [
    "Candidate",
    "Diagnosis",
    "across_outputs",
    "catalogue",
    "diagnose",
    "diagnose_not_finite",
    "registered",
]
