"""Gradient checks against torch.autograd, with feedback in Korean and English, for the course
"Computation graphs, the chain rule and PyTorch autograd"."""

from .checker import (
    ATOL,
    RTOL,
    CheckFailed,
    Report,
    Verdict,
    assert_gradient,
    assert_value,
    check_gradient,
    check_value,
    reference_gradient,
    returned,
)

__all__ = [
    "ATOL",
    "RTOL",
    "CheckFailed",
    "Report",
    "Verdict",
    "assert_gradient",
    "assert_value",
    "check_gradient",
    "check_value",
    "reference_gradient",
    "returned",
]
__version__ = "0.1.0"
