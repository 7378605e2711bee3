"""The compatibility course's class: every submission is made here, by code, from the sources and the
release that ``nbgrader generate_assignment`` wrote (no hand-written copies of notebooks).

Each student is a function ``(assignment, release, answers) -> files``: ``release`` maps each released
file name to its content (a notebook as an nbformat node, any other file as bytes), ``answers`` maps each
answer cell's grade id to the instructor's solution (markers removed). The function returns the files the
student hands in, by name. :data:`STUDENTS` gives each student's function and the time of submission.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import nbformat

# Due dates, set in the gradebook before the assignments are generated.
DUE = {"ps1": "2026-01-10 12:00:00 UTC", "ps2": "2026-01-17 12:00:00 UTC"}
ON_TIME = {"ps1": "2026-01-09 18:00:00.000000 UTC", "ps2": "2026-01-16 09:30:00.000000 UTC"}
# 27.5 hours late for ps1 (two started days), one hour late for ps2 (one day)
LATE = {"ps1": "2026-01-11 15:30:00.000000 UTC", "ps2": "2026-01-17 13:00:00.000000 UTC"}

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(source: str) -> str:
    """A source cell's code as a student who solved it would write it: the solution markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def answers_of(source_nb) -> dict[str, str]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in source_nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answered(nb, answers: dict[str, str], changes: dict[str, Callable[[str], str]] | None = None):
    """A copy of a released notebook with every answer cell filled in (and some answers changed)."""
    nb = copy.deepcopy(nb)
    changes = changes or {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
            if gid in changes:
                cell.source = changes[gid](cell.source)
    return nb


def edit(old: str, new: str) -> Callable[[str], str]:
    """A change to an answer: ``old`` (which must be there, so an edit never silently stops applying)
    replaced by ``new``."""

    def change(code: str) -> str:
        if old not in code:
            raise ValueError(f"{old!r} is not in the answer:\n{code}")
        return code.replace(old, new, 1)

    return change


def then(*changes: Callable[[str], str]) -> Callable[[str], str]:
    def change(code: str) -> str:
        for one in changes:
            code = one(code)
        return code

    return change


def notebooks(release: dict, answers: dict, changes: dict | None = None) -> dict:
    """Every released file, each notebook answered."""
    out = {}
    for name, content in release.items():
        out[name] = answered(content, answers, changes) if name.endswith(".ipynb") else content
    return out


# ------------------------------------------------------------------------------------------ students


def full(assignment, release, answers):
    """The instructor's solutions: full marks on every automatic test."""
    return notebooks(release, answers)


def blank(assignment, release, answers):
    """The release handed back untouched."""
    return dict(release)


def partial(assignment, release, answers):
    """Some answers right, some wrong in the ways tests are written to catch."""
    changes = {
        # the visible tests pass; the hidden test wants the bad value in the message
        "squares": then(
            edit('f"n must be at least 1, got {n}"', '"n is too small"'),
            # does not call squares(): the del test must catch it
            edit("return sum(squares(n))", "return n * (n + 1) * (2 * n + 1) // 6"),
        ),
        # two of three parts right, and a debugging line on stderr
        "environment": then(
            edit('"largest": max(values)', '"largest": min(values)'),
            edit(
                '    return {"mean"',
                '    import sys\n    print("debug", values, file=sys.stderr)\n    return {"mean"',
            ),
        ),
        "explain": lambda code: "Because squares is looked up when sum_of_squares runs.",
        # subtraction adds
        "vector": edit(
            "return Vector(self.x - other.x, self.y - other.y)",
            "return Vector(self.x + other.x, self.y + other.y)",
        ),
        # right result, but calls f in reverse order
        "apply_all": edit(
            "return [f(item) for item in items]", "return [f(item) for item in reversed(items)][::-1]"
        ),
        # counts one step too many
        "collatz": edit("steps = 0", "steps = 1"),
    }
    return notebooks(release, answers, changes)


def custom_exceptions(assignment, release, answers):
    """Raises exception classes of its own: subclasses of the expected built-in type (must pass), and
    one that is not (must fail)."""
    changes = {
        "squares": then(
            edit("def squares(n):", "class TooSmall(ValueError):\n    pass\n\n\ndef squares(n):"),
            edit("raise ValueError(", "raise TooSmall("),
        ),
        "vector": then(
            edit("class Vector:", "class CoordinateError(TypeError):\n    pass\n\n\nclass Vector:"),
            edit('raise TypeError("coordinates', 'raise CoordinateError("coordinates'),
        ),
        # not a ValueError: test_collatz expects one
        "collatz": then(
            edit(
                "def collatz_steps(n):", "class CollatzError(Exception):\n    pass\n\n\ndef collatz_steps(n):"
            ),
            edit('raise ValueError("n must be positive")', 'raise CollatzError("n must be positive")'),
        ),
        "parse_age": then(
            edit(
                "def parse_age(text):",
                "class NegativeAgeError(ValueError):\n    pass\n\n\ndef parse_age(text):",
            ),
            edit("raise ValueError(f", "raise NegativeAgeError(f"),
        ),
    }
    return notebooks(release, answers, changes)


def looper(assignment, release, answers):
    """Loops forever: collatz_steps(0) never ends (no check for n < 1), and the cell defining
    parse_age ends in an endless 'try it out' loop after the definition."""
    changes = {
        "collatz": edit('    if n < 1:\n        raise ValueError("n must be positive")\n', ""),
        "parse_age": lambda code: code + "\n\n\nwhile True:  # try it out\n    pass\n",
    }
    return notebooks(release, answers, changes)


def vandal(assignment, release, answers):
    """Deletes and renames things: a test cell and the setup cell deleted, a test cell emptied, a
    function renamed, a notebook renamed, the data file overwritten, a test cell's metadata stripped."""
    files = notebooks(
        release,
        answers,
        {
            "column_mean": edit("def column_mean(", "def col_mean("),
            "apply_all": edit("def apply_all(", "def apply("),
        },
    )
    if assignment == "ps1":
        nb = files["problems.ipynb"]
        nb.cells = [c for c in nb.cells if grade_id(c) not in ("test_sum_of_squares", "setup")]
        for cell in nb.cells:
            if grade_id(cell) == "test_squares":
                cell.source = "pass  # no tests here"
        files["measurements.csv"] = b"name,length,weight\nonly,0,0\n"
        files["classes-Copy1.ipynb"] = files.pop("classes.ipynb")
    else:
        nb = files["loops.ipynb"]
        for cell in nb.cells:
            if grade_id(cell) == "test_parse_age":
                del cell.metadata["nbgrader"]
                cell.source = "print('all good')"
        nb.cells = [c for c in nb.cells if grade_id(c) != "test_after_loop"]
    return files


# name: (how the submission is made, when it was submitted)
STUDENTS: dict[str, tuple[Callable, dict[str, str]]] = {
    "full": (full, ON_TIME),
    "blank": (blank, ON_TIME),
    "partial": (partial, ON_TIME),
    "custom": (custom_exceptions, ON_TIME),
    "late": (full, LATE),
    "looper": (looper, ON_TIME),
    "vandal": (vandal, ON_TIME),
}


def submission(student: str, assignment: str, release: dict, sources: dict) -> dict:
    """The files ``student`` hands in for ``assignment``: {name: notebook node or bytes}."""
    make, _ = STUDENTS[student]
    answers = {}
    for nb in sources.values():
        answers.update(answers_of(nb))
    return make(assignment, release, answers)


def write_files(files: dict, folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            nbformat.write(content, folder / name)
