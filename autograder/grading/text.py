"""How much text grading keeps, defined once: names, messages and problems are cut to these lengths
wherever they cross from the student's process or go into a note."""

from __future__ import annotations

from .protocol import OUTPUT_LIMIT

NAME_CHARS = 200  # a type's or an exception's name, an attribute's name in a message
MESSAGE_CHARS = 2000  # an exception's message from the student's process
PROBLEM_CHARS = 300  # what went wrong, in a note to the student or the instructor
LABEL_CHARS = 60  # a cell named by its first line
ERROR_CHARS = 500  # a test's own error, in the feedback
DETAIL_CHARS = 100  # a detail inside a message of the wire or the wall
STREAM_CHARS = OUTPUT_LIMIT  # a cell's printed text, per stream


def problem_of(error: BaseException) -> str:
    """``error`` as one short line: its type and the start of its message."""
    return f"{type(error).__name__}: {str(error)[:PROBLEM_CHARS]}"
