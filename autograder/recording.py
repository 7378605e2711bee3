"""What the checks of one test cell named, kept for ``course grade``: mistakes, refused shortcuts, parts.

The checker tells this module each diagnosis it puts into a message (``mistakes.Diagnosis.message``), the
rules each kind of shortcut they refuse (``rules.enforce``), and ``checker.Parts`` which part a check
belongs to and how each part ended. Nothing listens in a student's kernel: there
each call is one look-up and returns. ``course grade``'s judge listens while it runs a test cell in its own
process (:func:`listening`), so what is recorded comes from the grader's own checker and rules, at the
grader's own test points, never from anything the student's code said about itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from .messages import LANGUAGES


@dataclass
class Heard:
    """What one test cell's checks named, in the order they named it (each thing once)."""

    stage: str = "visible"  # the part of the test cell running: "visible", then "hidden"
    part: str | None = None  # the Parts part whose check is running, if any
    mistakes: list[dict] = field(default_factory=list)  # {"id", "part", "stage", "ko", "en"}
    shortcuts: list[dict] = field(default_factory=list)  # {"kind", "found", "ko", "en"}
    parts: dict[str, dict] = field(default_factory=dict)  # name → {"name", "passed", "failed_in"}

    def part_list(self) -> list[dict]:
        return list(self.parts.values())


_HEARD: ContextVar[Heard | None] = ContextVar("course_heard", default=None)


@contextlib.contextmanager
def listening() -> Iterator[Heard]:
    """Record what the checks name until the block ends (the judge, around one test cell)."""
    heard = Heard()
    token = _HEARD.set(heard)
    try:
        yield heard
    finally:
        _HEARD.reset(token)


def _texts(text: Callable[[str], str]) -> dict[str, str]:
    return {code: text(code) for code in LANGUAGES}


def mistake(key: str, text: Callable[[str], str]) -> None:
    """A known mistake named in a message; ``text(lang)`` is its hint in that language."""
    heard = _HEARD.get()
    if heard is None:
        return
    if any(m["id"] == key and m["part"] == heard.part for m in heard.mistakes):
        return
    heard.mistakes.append({"id": key, "part": heard.part, "stage": heard.stage, **_texts(text)})


def shortcut(kind: str, found: str, text: Callable[[str], str]) -> None:
    """A kind of shortcut a rule refused (``autograder.rules.KINDS``), what was found, and the message."""
    heard = _HEARD.get()
    if heard is None or any(s["kind"] == kind for s in heard.shortcuts):
        return
    heard.shortcuts.append({"kind": kind, "found": found, **_texts(text)})


@contextlib.contextmanager
def part(name: str) -> Iterator[None]:
    """The checks run in this block belong to part ``name``."""
    heard = _HEARD.get()
    if heard is None:
        yield
        return
    outer, heard.part = heard.part, name
    try:
        yield
    finally:
        heard.part = outer


def part_failed(name: str) -> None:
    """A check of part ``name`` failed (the first failure says where: visible or hidden test)."""
    heard = _HEARD.get()
    if heard is not None:
        entry = heard.parts.setdefault(name, {"name": name, "passed": False, "failed_in": heard.stage})
        entry["passed"] = False


def parts_scored(names: tuple[str, ...], failed: set[str] | dict) -> None:
    """``Parts.score()``: every part and whether it passed."""
    heard = _HEARD.get()
    if heard is None:
        return
    ordered = {}
    for name in names:
        entry = heard.parts.get(name) or {"name": name, "passed": True, "failed_in": None}
        entry["passed"] = name not in failed
        ordered[name] = entry
    heard.parts = {**ordered, **{k: v for k, v in heard.parts.items() if k not in ordered}}
