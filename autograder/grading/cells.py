"""What each cell of an nbgrader notebook is, decided in one place, and a test cell's hidden part.

nbgrader marks cells in ``metadata.nbgrader``: an answer is ``solution``, a test is ``grade`` without
``solution``, instructor code is ``locked``. After sanitizing, that metadata is the gradebook's, not the
student's (see :mod:`autograder.grading.nbgrader_api`).
"""

from __future__ import annotations

import re

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
HIDDEN_BEGIN_DELIMITER = "BEGIN HIDDEN TESTS"  # nbgrader's ClearHiddenTests defaults
HIDDEN_END_DELIMITER = "END HIDDEN TESTS"

# magics, shell escapes, help (`?`) and explicit `get_ipython`: code that only IPython can run
IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|\?\s*$|get_ipython|^\s*\w+\s*=\s*[%!]", re.M)


def uses_ipython(code: str) -> bool:
    return bool(IPYTHON_SYNTAX.search(code))


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_instructor(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked")) and not meta.get("solution")


def split_hidden(code: str) -> tuple[str, str]:
    """A test cell's visible code and its hidden code (empty when there is none), each in order."""
    pieces = segments(code)
    visible = "\n".join(piece for hidden, piece in pieces if not hidden)
    return visible, "\n".join(piece for hidden, piece in pieces if hidden)


def segments(code: str) -> list[tuple[bool, str]]:
    """A test cell's code in order, as (hidden?, code) pieces split at the hidden-test markers: a line
    containing nbgrader's delimiter (``BEGIN HIDDEN TESTS``, ``END HIDDEN TESTS``) is a marker, as for
    nbgrader's ``ClearHiddenTests``."""
    pieces, current, hidden = [], [], False
    for line in code.splitlines():
        begins, ends = HIDDEN_BEGIN_DELIMITER in line, HIDDEN_END_DELIMITER in line
        if begins or ends:
            if any(x.strip() for x in current):
                pieces.append((hidden, "\n".join(current)))
            current, hidden = [], begins
            continue
        current.append(line)
    if any(x.strip() for x in current):
        pieces.append((hidden, "\n".join(current)))
    return pieces or [(False, "")]
