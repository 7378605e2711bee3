"""Self-check from inside a notebook: ``from autograder.selfcheck import show; show()``.

The student's entry point; the machinery is :mod:`autograder.grading.selfcheck`.
"""

from .grading.selfcheck import show

__all__ = ["show"]
