"""What each cell of an nbgrader notebook is, decided in one place, and a test cell's hidden part.

nbgrader marks cells in ``metadata.nbgrader``: an answer is ``solution``, a test is ``grade`` without
``solution``, instructor code is ``locked``. After sanitizing, that metadata is the gradebook's, not the
student's (see :mod:`autograder.grading.nbgrader_api`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HIDDEN_BEGIN_DELIMITER = "BEGIN HIDDEN TESTS"  # nbgrader's ClearHiddenTests defaults
HIDDEN_END_DELIMITER = "END HIDDEN TESTS"
HIDDEN_BEGIN = f"### {HIDDEN_BEGIN_DELIMITER}"  # the lines the course's sources write
HIDDEN_END = f"### {HIDDEN_END_DELIMITER}"


@dataclass(frozen=True)
class Markers:
    """The delimiters of a test cell's hidden part: nbgrader's ``ClearHiddenTests.begin_test_delimeter``
    and ``end_test_delimeter`` (so spelled), a line containing one being a marker."""

    begin: str = HIDDEN_BEGIN_DELIMITER
    end: str = HIDDEN_END_DELIMITER

    @classmethod
    def from_config(cls, config) -> Markers:
        options = config.get("ClearHiddenTests", {}) if config is not None else {}
        begin = options.get("begin_test_delimeter", HIDDEN_BEGIN_DELIMITER)
        end = options.get("end_test_delimeter", HIDDEN_END_DELIMITER)
        return cls(str(begin) or HIDDEN_BEGIN_DELIMITER, str(end) or HIDDEN_END_DELIMITER)


# magics, shell escapes, help (`?`) and explicit `get_ipython`: code that only IPython can run
IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|\?\s*$|get_ipython|^\s*\w+\s*=\s*[%!]", re.M)


DEFAULT_MARKERS = Markers()


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


def split_hidden(code: str, markers: Markers = DEFAULT_MARKERS) -> tuple[str, str]:
    """A test cell's visible code and its hidden code (empty when there is none), each in order."""
    pieces = segments(code, markers)
    visible = "\n".join(piece for hidden, piece in pieces if not hidden)
    return visible, "\n".join(piece for hidden, piece in pieces if hidden)


def segments(code: str, markers: Markers = DEFAULT_MARKERS) -> list[tuple[bool, str]]:
    """A test cell's code in order, as (hidden?, code) pieces split at the hidden-test markers: a line
    containing nbgrader's delimiter (``BEGIN HIDDEN TESTS``, ``END HIDDEN TESTS`` unless the course's
    configuration says otherwise) is a marker, as for nbgrader's ``ClearHiddenTests``."""
    pieces, current, hidden = [], [], False
    for line in code.splitlines():
        begins, ends = markers.begin in line, markers.end in line
        if begins or ends:
            if any(x.strip() for x in current):
                pieces.append((hidden, "\n".join(current)))
            current, hidden = [], begins
            continue
        current.append(line)
    if any(x.strip() for x in current):
        pieces.append((hidden, "\n".join(current)))
    return pieces or [(False, "")]
