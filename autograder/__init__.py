"""Gradient checks against torch.autograd, with feedback in Korean and English, for the course
"Computation graphs, the chain rule and PyTorch autograd".

The checker's names are imported on first use, so that ``import autograder`` (and the ``course``
command, which grades and builds without needing torch in its own process) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "ATOL",
    "RTOL",
    "CheckFailed",
    "Parts",
    "Predictions",
    "Report",
    "Verdict",
    "assert_by_hand",
    "assert_gradient",
    "assert_predicts",
    "assert_rules",
    "assert_value",
    "assert_without_jacobian",
    "check_gradient",
    "check_value",
    "reference_gradient",
    "returned",
]
__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .checker import (
        ATOL,
        RTOL,
        CheckFailed,
        Parts,
        Predictions,
        Report,
        Verdict,
        assert_gradient,
        assert_value,
        check_gradient,
        check_value,
        reference_gradient,
        returned,
    )
    from .rules import assert_by_hand, assert_predicts, assert_rules, assert_without_jacobian


def __getattr__(name: str) -> object:
    if name in ("assert_by_hand", "assert_predicts", "assert_rules", "assert_without_jacobian"):
        return getattr(importlib.import_module(".rules", __name__), name)
    if name in __all__:
        return getattr(importlib.import_module(".checker", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
