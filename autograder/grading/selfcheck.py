"""``course check NOTEBOOK``: run a student's notebook the way the grader does, with the tests it has.

A student has the release, so only the visible tests run; the machinery is the grader's
(:mod:`autograder.grading.judge`): the student's cells run in a separate worker process, the tests here. The
result is a table of exercises, points and the checker's messages, in the notebook's language (the
``course.lang`` metadata of a Korean- or English-only release), or ``--lang``, or both.

From inside a notebook, ``from autograder.selfcheck import show; show()`` prints the same table for the
notebook the kernel belongs to (JupyterLab tells the kernel its path); save the notebook first.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..course import CourseError
from ..messages import pad, render, width
from .cells import is_test, nbgrader_meta
from .exercises import exercises
from .judge import run_notebook
from .runner import read_notebook
from .sandbox import Limits, Session


@dataclass
class Row:
    grade_id: str
    points: float
    earned: float
    passed: bool
    messages: list[str]
    title: str = ""  # the exercise's heading in the table's language (the grade id when it has none)


def notebook_lang(nb) -> str | None:
    lang = nb.metadata.get("course", {}).get("lang")
    return lang if lang in ("ko", "en") else None


def check(
    path: Path, lang: str | None = None, limits: Limits | None = None, progress: bool = False
) -> tuple[list[Row], str]:
    """Run the notebook at ``path``; one row per autograded test cell, and the language used."""
    path = Path(path)
    if not path.is_file():
        raise CourseError("check_not_found", path=str(path))
    try:
        nb = read_notebook(path)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise CourseError(
            "check_unreadable", path=str(path), problem=f"{type(error).__name__}: {error}"
        ) from None
    lang = lang or notebook_lang(nb) or os.environ.get("COURSE_LANG") or "both"
    os.environ["COURSE_LANG"] = lang  # the checker's messages, here and in the worker
    points = {
        nbgrader_meta(c).get("grade_id"): float(nbgrader_meta(c).get("points", 0))
        for c in nb.cells
        if is_test(c)
    }
    if not points:
        raise CourseError("check_no_tests", path=str(path))
    limits = limits or Limits()
    if progress:
        print(render("check_running", lang, path=path.name, count=len(points)), file=sys.stderr, flush=True)
    if any(c.cell_type == "code" and "torch" in c.source for c in nb.cells):
        # before the worker starts: it is then a fork of this process, and torch is imported once, not twice
        import torch  # noqa: F401
    found = exercises(copy.deepcopy(nb))  # cells as submitted: the run writes into the notebook's own
    results = run_notebook(nb, lambda: Session(path.parent, limits=limits, sandbox=False, in_place=True))
    rows = []
    for r in results:
        exercise = found.get(r.grade_id)
        messages = r.messages
        # asked only on a failure: it needs nbgrader's checksum, whose import costs a second or more
        if not r.passed and exercise and exercise.not_started():
            messages = [render("check_not_started", lang)]  # not "NotImplementedError: " from the stub
        earned = r.score if r.score is not None else (points.get(r.grade_id, 0.0) if r.passed else 0.0)
        title = exercise.title(lang) if exercise else r.grade_id
        rows.append(Row(r.grade_id, points.get(r.grade_id, 0.0), earned, r.passed, messages, title))
    return rows, lang


def table(rows: list[Row], lang: str) -> str:
    titles = [row.title or row.grade_id for row in rows]
    columns = max(width(title) for title in titles)
    lines = [render("check_header", lang), ""]
    for row, title in zip(rows, titles, strict=True):
        mark = "✔" if row.passed else "✘"
        lines.append(f"{mark} {pad(title, columns)}  {row.earned:g}/{row.points:g}")
        if not row.passed:  # with partial credit the messages say which parts passed
            for message in row.messages:
                lines += [f"    {line}" for line in message.splitlines()]
    earned, total = sum(r.earned for r in rows), sum(r.points for r in rows)
    lines += ["", render("check_total", lang, earned=earned, total=total)]
    return "\n".join(lines)


def show(path: str | None = None, lang: str | None = None) -> None:
    """Print the table for ``path``, or for the notebook this kernel runs (JupyterLab's JPY_SESSION_NAME)."""
    target = path or os.environ.get("JPY_SESSION_NAME")
    if not target:
        print(render("check_where"), file=sys.stderr)
        return
    path = Path(target)
    if not path.is_file() and (Path.cwd() / path.name).is_file():
        path = Path.cwd() / path.name  # a path relative to the server's root; the kernel runs beside it
    rows, used = check(path, lang)
    print(table(rows, used))
