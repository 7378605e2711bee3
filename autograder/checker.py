r"""Check a student's numbers against ``torch.autograd`` and say what is wrong, in Korean and English.

The reference is always computed in float64 at the student's inputs. A value passes when every element
satisfies

.. math:: |s - r| \le \mathrm{atol} + \mathrm{rtol}\cdot|r|

with ``RTOL = 1e-5`` and ``ATOL = 1e-6`` unless the exercise says otherwise: loose enough for an answer
computed in float32 (machine epsilon 1.2e-7) over a few dozen operations, tight enough that a dropped
constant, a wrong sign or a missing term is always caught at the course's test points (|r| of order 1).

Checks run in a fixed order, and the first that fails gives the message: None, then type, then a tensor
still attached to a graph, then shape, then NaN/inf, then the values.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import recording
from .messages import Text, render
from .mistakes import Candidate, Diagnosis, across_outputs, diagnose, diagnose_not_finite, registered

RTOL = 1e-5
ATOL = 1e-6


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing one named value: ``key`` names its message in ``messages.toml``."""

    name: str
    key: str
    params: dict = field(default_factory=dict)
    diagnoses: tuple[Diagnosis, ...] = ()  # known mistakes the answer matches (mistakes.toml)

    @property
    def ok(self) -> bool:
        return self.key == "passed"

    @property
    def mistakes(self) -> tuple[str, ...]:
        """The ids of the catalogued mistakes this answer matches, () when none does."""
        return tuple(d.id for d in self.diagnoses)

    def message(self, lang: str | None = None) -> str:
        lines = [render(self.key, lang, name=self.name, **self.params)]
        return "\n".join(lines + [d.message(lang) for d in self.diagnoses])


@dataclass(frozen=True)
class Report:
    """The verdicts of one check, one per compared value; it passes when all of them pass."""

    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def __bool__(self) -> bool:
        return self.ok

    def message(self, lang: str | None = None) -> str:
        return "\n".join(v.message(lang) for v in self.verdicts)

    def __str__(self) -> str:
        return self.message()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display
        printer.text(self.message())


class CheckFailed(AssertionError):
    """Raised by the ``assert_*`` functions; its text is the bilingual message and its diagnosis.

    In a notebook the student sees that text and nothing else: IPython asks an exception for
    ``_render_traceback_()`` before it formats any frame, and ipykernel sends those lines as the error
    output's traceback (what JupyterLab shows, nbgrader stores, feedback and the Validate button print).
    The checker's own frames and the install's paths would tell the student nothing, and
    ``__tracebackhide__`` hides every frame but the one that raises. Elsewhere nothing changes: it is an
    ``AssertionError`` of this type and message for pytest, nbgrader's grading (an error output scores 0)
    and ``course grade``, and ``%debug`` in the notebook still reaches the frames."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m", *str(self).strip("\n").splitlines()]


class _Rejected(Exception):
    """Internal: a value could not be turned into numbers; carries the message key and parameters."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# ---------------------------------------------------------------------------------------- coercion


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def as_array(value: object) -> np.ndarray:
    """``value`` (tensor, ndarray, number or nested list of those) as a float64 array.

    Raises ``_Rejected`` with the message key when it cannot be read as plain numbers.
    """
    if value is None:
        raise _Rejected("is_none")
    if isinstance(value, torch.Tensor):
        if value.requires_grad:
            raise _Rejected("attached")
        if value.is_complex() or value.dtype == torch.bool:
            raise _Rejected("wrong_type", given_type=f"torch.Tensor ({value.dtype})")
        try:
            dense = value.to_dense() if value.layout != torch.strided else value
            return dense.detach().cpu().to(torch.float64).numpy()
        except (RuntimeError, TypeError, NotImplementedError):  # meta tensors, exotic layouts
            kind = f"torch.Tensor ({value.layout}, {value.device})"
            raise _Rejected("wrong_type", given_type=kind) from None
    if isinstance(value, (bool, np.bool_)):
        raise _Rejected("wrong_type", given_type=_type_name(value))
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind in "iuf":
            return np.asarray(value, dtype=np.float64)
        if value.dtype.kind == "O":
            return as_array(value.tolist())
        raise _Rejected("wrong_type", given_type=f"numpy.ndarray ({value.dtype})")
    if isinstance(value, numbers.Real):
        try:
            return np.asarray(float(value), dtype=np.float64)
        except OverflowError:  # an int beyond float range is, for comparison, infinite
            return np.asarray(np.inf if value > 0 else -np.inf)
    if isinstance(value, (list, tuple)):
        parts = [as_array(item) for item in value]
        if len({part.shape for part in parts}) > 1:
            raise _Rejected("ragged")
        return np.stack(parts) if parts else np.zeros(0)
    raise _Rejected("wrong_type", given_type=_type_name(value))


def _index_text(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else "[]"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


# -------------------------------------------------------------------------------------- comparison


def _trusted(value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).numpy()
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return np.stack([_trusted(v) for v in value]) if value else np.zeros(0)
    return np.asarray(value, dtype=np.float64)


def compare(
    given: object,
    expected: object,
    name: str,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    n: int | None = None,
    upstream: object = None,
    candidates: Sequence[tuple[str, object, Candidate | None]] = (),
    backward_calls: bool = True,
) -> Verdict:
    """One verdict for ``given`` against the trusted ``expected`` value.

    When the answer is wrong, the verdict carries every known mistake it matches (see ``mistakes.py``):
    generic ones from the ratio between answer and reference (``n``: the exercise's count, for sum vs
    mean; ``backward_calls=False`` for a derivation by hand, where a whole factor is a constant of the
    derivation, not gradients accumulated over backward() calls), the ``upstream`` gradient returned as
    is, and the exercise's registered ``candidates``.
    """
    reference = _trusted(expected)

    def readings(answer: np.ndarray) -> tuple[Diagnosis, ...]:
        return diagnose(
            answer,
            reference,
            rtol=rtol,
            atol=atol,
            n=n,
            upstream=None if upstream is None else _trusted(upstream),
            candidates=[(key, _trusted(value), custom) for key, value, custom in candidates],
            backward_calls=backward_calls,
        )

    if not np.all(np.isfinite(reference)):
        raise ValueError(f"the reference value for {name!r} is not finite: fix the exercise, not the answer")
    try:
        answer = as_array(given)
    except _Rejected as rejected:
        return Verdict(name, rejected.key, rejected.params)

    if answer.shape != reference.shape:
        if answer.size == 1 and reference.size == 1:
            answer = answer.reshape(reference.shape)
        else:
            return Verdict(
                name,
                "shape",
                {"expected_shape": _shape_text(reference.shape), "given_shape": _shape_text(answer.shape)},
                readings(answer) if np.isfinite(answer).all() else (),
            )

    finite = np.isfinite(answer)
    if not finite.all():
        bad = sorted({"NaN" if np.isnan(v) else "inf" for v in answer[~finite].ravel()})
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        return Verdict(
            name,
            "not_finite",
            {"bad": "/".join(bad), "count": int((~finite).sum()), "index": _index_text(first)},
            diagnose_not_finite(
                answer, [(k, _trusted(v), c) for k, v, c in candidates], rtol=rtol, atol=atol
            ),
        )

    error = np.abs(answer - reference)
    outside = error > atol + rtol * np.abs(reference)
    max_error = float(error.max()) if error.size else 0.0
    if not outside.any():
        return Verdict(name, "passed", {"max_error": max_error})
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    return Verdict(
        name,
        "mismatch" if reference.size > 1 else "mismatch_scalar",
        {
            "count": int(outside.sum()),
            "total": int(outside.size),
            "rtol": rtol,
            "atol": atol,
            "index": _index_text(tuple(int(i) for i in worst)),
            "expected": float(reference[worst]),
            "given": float(answer[worst]),
            "max_error": max_error,
        },
        readings(answer),
    )


def check_value(
    given: object,
    expected: object,
    name: str = "value",
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    n: int | None = None,
    mistakes: Mapping[str, object] | Sequence[tuple[str, object]] | None = None,
    backward_calls: bool = True,
) -> Report:
    """Compare a value the student computed (a forward value, say) with the expected one.

    ``mistakes`` maps a mistake id of ``mistakes.toml`` (or a custom id with a ``Candidate``) to the wrong
    value that mistake gives here, so that the message can name it; ``n`` is the count a sum-vs-mean
    mistake would be off by; ``backward_calls=False`` for an answer derived by hand (see ``compare``)."""
    candidates = registered(mistakes)
    verdict = compare(
        given, expected, name, rtol=rtol, atol=atol, n=n, candidates=candidates, backward_calls=backward_calls
    )
    return Report((verdict,))


# ---------------------------------------------------------------------------------------- gradients


def _leaf(value: object) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).clone().requires_grad_(True)
    return torch.tensor(np.asarray(value, dtype=np.float64)).requires_grad_(True)


def reference_gradient(
    f: Callable[..., torch.Tensor], *inputs: object, grad_output: object = None
) -> tuple[torch.Tensor, ...]:
    """The gradient of ``f`` with respect to each input, by ``torch.autograd`` in float64.

    ``f`` must return a scalar, unless ``grad_output`` (the upstream gradient, same shape as the output)
    is given: then the result is the vector-Jacobian product ``grad_output · J``.
    """
    leaves = tuple(_leaf(x) for x in inputs)
    with torch.enable_grad():  # a student's cell may have switched autograd off globally
        out = f(*leaves)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the reference function must return a tensor, not {_type_name(out)}")
        if grad_output is None:
            if out.numel() != 1:
                raise ValueError("the reference function returns a non-scalar: pass grad_output")
            upstream = None
        else:
            upstream = _leaf(grad_output).detach().reshape(out.shape)
        if not out.requires_grad:  # f does not depend on its inputs at all
            return tuple(torch.zeros_like(leaf).detach() for leaf in leaves)
        grads = vjp(out, leaves, upstream, allow_unused=True, materialize_grads=True)
    return tuple(g.detach() for g in grads)


def vjp(out: torch.Tensor, inputs, upstream: torch.Tensor | None = None, **options) -> tuple:
    """``torch.autograd.grad(out, inputs, upstream)``, with ``upstream`` folded into the output.

    Given a tensor as ``grad_outputs``, autograd's first call imports torch.fx's symbolic shapes and with them
    sympy: half a second that a student would wait at every ``course check``. A scalar output with no
    ``grad_outputs`` never takes that path. The result is the same to the bit: the backward of
    ``(out * upstream).sum()`` hands ``out`` the product ``1.0 * upstream``, which is ``upstream``."""
    if upstream is not None:
        out = (out * upstream.to(out.dtype)).sum()
    return torch.autograd.grad(out, inputs, **options)


def parameter_names(f: Callable, count: int) -> tuple[str, ...]:
    """The names of ``f``'s first ``count`` positional parameters, ``input0``, ... where it has none."""
    try:
        params = [
            p.name
            for p in inspect.signature(f).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) < count:
        params = [f"input{i}" for i in range(count)]
    return tuple(params[:count])


def _split(given: object, names: Sequence[str], params: Sequence[str]) -> list[object] | Verdict:
    """The student's answer as one gradient per input, or a verdict saying the count is wrong."""
    if len(names) == 1:
        return [given]
    if given is None:
        return Verdict(", ".join(names), "is_none")
    if isinstance(given, Mapping):
        missing = [p for p in params if p not in given]
        if missing:
            return Verdict(
                "", "wrong_count", {"expected": len(names), "given": len(given), "names": ", ".join(names)}
            )
        return [given[p] for p in params]
    if isinstance(given, (list, tuple)) and len(given) == len(names):
        return list(given)
    count = len(given) if isinstance(given, (list, tuple)) else 1
    return Verdict("", "wrong_count", {"expected": len(names), "given": count, "names": ", ".join(names)})


def check_gradient(
    given: object,
    f: Callable[..., torch.Tensor],
    *inputs: object,
    names: Sequence[str] | None = None,
    grad_output: object = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    n: int | None = None,
    mistakes: Mapping[str, object] | Sequence[tuple[str, object]] | None = None,
    backward_calls: bool = True,
) -> Report:
    """Compare the student's gradient(s) of ``f`` at ``inputs`` with torch.autograd's.

    With one input, ``given`` is that input's gradient. With several, it is a list or tuple holding one
    gradient per input, in order, or a dict keyed by ``f``'s parameter names.

    A wrong answer is diagnosed when it matches a known mistake (``mistakes.toml``). ``mistakes`` maps a
    mistake id to the wrong gradient(s) it gives at these inputs, in the same form as ``given`` (``None``
    for an input the mistake does not change); ``n`` is the batch size a sum-vs-mean mistake is off by;
    ``backward_calls=False`` says the gradient was derived by hand, so no factor is read as gradients
    accumulated over backward() calls.
    """
    references = reference_gradient(f, *inputs, grad_output=grad_output)
    params = parameter_names(f, len(inputs))
    output = "f" if grad_output is None else "L"  # with an upstream gradient the result is ∂L/∂input
    names = tuple(names) if names is not None else tuple(f"∂{output}/∂{p}" for p in params)
    parts = _split(given, names, params)
    if isinstance(parts, Verdict):
        return Report((parts,))
    per_output: list[list[tuple[str, object, Candidate | None]]] = [[] for _ in names]
    for key, value, custom in registered(mistakes):
        values = [value] if len(names) == 1 else _split(value, names, params)
        if isinstance(values, Verdict):
            raise ValueError(f"mistake {key!r}: give one value per gradient ({', '.join(names)})")
        for slot, wrong in zip(per_output, values, strict=True):
            if wrong is not None:
                slot.append((key, wrong, custom))
    verdicts = [
        compare(
            part,
            ref,
            name,
            rtol=rtol,
            atol=atol,
            n=n,
            upstream=grad_output,
            candidates=candidates,
            backward_calls=backward_calls,
        )
        for part, ref, name, candidates in zip(parts, references, names, per_output, strict=True)
    ]
    right = [v.name for v in verdicts if v.ok] if n is not None else []  # a batch only when one is declared
    return Report(
        tuple(
            replace(v, diagnoses=across_outputs(v.diagnoses, right)) if v.diagnoses else v for v in verdicts
        )
    )


# ------------------------------------------------------------------------------ for nbgrader test cells


def returned(result: object, *names: str) -> tuple:
    """The values a student's function returned, checked to be ``len(names)`` of them.

    ``a, b = returned(f(x), "a", "b")`` fails with a bilingual message instead of an unpacking error
    when the function returned None or the wrong number of values.
    """
    __tracebackhide__ = True
    listed = ", ".join(names)
    if result is None:
        raise CheckFailed("\n" + render("returned_none", expected=len(names), names=listed))
    values = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(values) != len(names):
        raise CheckFailed(
            "\n" + render("returned_count", given=len(values), expected=len(names), names=listed)
        )
    return values


def _assert(report: Report) -> None:
    __tracebackhide__ = True  # pytest shows the message, not the checker's frames (IPython: CheckFailed)
    if not report.ok:
        raise CheckFailed("\n" + report.message())
    print(report.message())


def assert_value(given: object, expected: object, name: str = "value", **tolerances: float) -> None:
    """``check_value``, printing the pass message or raising ``CheckFailed`` with the diagnosis.

    Returns None, so that a test cell ending in this call does not show the report a second time."""
    __tracebackhide__ = True
    _assert(check_value(given, expected, name, **tolerances))


def assert_gradient(
    given: object, f: Callable[..., torch.Tensor], *inputs: object, **options: object
) -> None:
    """``check_gradient``, printing the pass message or raising ``CheckFailed`` with the diagnosis.

    Returns None, so that a test cell ending in this call does not show the report a second time."""
    __tracebackhide__ = True
    _assert(check_gradient(given, f, *inputs, **options))


class Parts:
    """An exercise with independent parts, each worth a share of the test cell's points.

    ::

        parts = Parts(4, "f", "∂f/∂w", "∂f/∂x", "∂f/∂b")
        parts.check("f", lambda: assert_value(f, expected_f, "f"))
        parts.check("∂f/∂w", lambda: assert_gradient(df_dw, lambda w: ..., w))
        ...
        parts.score()   # the cell's last line: its value is nbgrader's partial credit

    A part passes when every check of it passes (visible and hidden ones); ``score()`` prints which parts
    passed and returns ``points × passed / parts``. Only a failed check (an ``AssertionError``) fails a
    part; any other error still fails the whole cell.

    ``labels`` gives a part the name the student reads in each language (``{"dZ": Text("…", "…")}``; a part
    without one is shown by its name), and ``weights`` a share other than 1: ``Parts(3, "A", "dZ",
    weights={"dZ": 2})`` gives A one point and dZ two.

    ``Parts.strict = True`` makes the first failed part fail the cell at once, as a plain check does: the
    test that proves each test point tells the mistakes apart uses it.
    """

    strict = False

    def __init__(
        self,
        points: float,
        *names: str,
        labels: Mapping[str, Text] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        if not names:
            raise ValueError("Parts needs the names of its parts")
        unknown = (set(labels or {}) | set(weights or {})) - set(names)
        if unknown:
            raise ValueError(f"labels or weights for unknown parts {sorted(unknown)}; the parts are {names}")
        self.points = float(points)
        self.names = tuple(names)
        self.labels = dict(labels or {})
        self.weights = {name: float((weights or {}).get(name, 1)) for name in names}
        if any(w <= 0 for w in self.weights.values()):
            raise ValueError("a part's weight must be positive")
        self.failed: dict[str, str] = {}

    def check(self, name: str, test: Callable[[], object]) -> None:
        if name not in self.names:
            raise ValueError(f"unknown part {name!r}; the parts are {self.names}")
        try:
            with recording.part(name):
                test()
        except AssertionError as failure:
            self.failed.setdefault(name, str(failure).strip())
            recording.part_failed(name)
            print(str(failure).strip())
            if self.strict:
                raise

    def score(self) -> float:
        passed = [n for n in self.names if n not in self.failed]
        earned = self.points * sum(self.weights[n] for n in passed) / sum(self.weights.values())
        recording.parts_scored(self.names, self.failed)

        def shown(names: list[str]) -> Text | str:
            return Text.joined([self.labels.get(n, n) for n in names]) if names else "—"

        print(
            render(
                "parts_summary",
                earned=earned,
                points=self.points,
                passed=shown(passed),
                failed=shown([n for n in self.names if n in self.failed]),
            )
        )
        return earned


class Predictions:
    """A True/False prediction checked case after case, as an exercise's test cell runs them.

    ::

        predictions = Predictions()
        predictions.check(f"breaks_backward({chain}, {edited})", answer, expected, {"mistake_id": reading})

    ``readings`` gives, for each registered mistake, what that misreading predicts on this case. A wrong
    answer names a mistake only when its reading agrees with the answer on every case checked so far: a
    single True/False agrees with many misreadings, the whole run with few. The message reads "expected
    True, got False", not a numeric error.
    """

    def __init__(self) -> None:
        self.agreeing: dict[str, bool] = {}

    def check(self, name: str, answer: object, expected: bool, readings: Mapping[str, bool]) -> None:
        __tracebackhide__ = True
        if isinstance(answer, np.bool_):  # a NumPy comparison is a prediction too
            answer = bool(answer)
        if not isinstance(answer, bool):
            raise CheckFailed("\n" + render("gradcheck_not_bool", name=name, given=repr(answer)))
        for key, reading in readings.items():
            self.agreeing[key] = self.agreeing.get(key, True) and bool(reading) == answer
        if answer != bool(expected):
            named = [Diagnosis(key).message() for key in readings if self.agreeing[key]]
            raise CheckFailed(
                "\n"
                + "\n".join([render("prediction_wrong", name=name, expected=expected, given=answer), *named])
            )
        print(render("prediction_right", name=name, given=answer))
