"""The records that pass between grading's stages, and the per-student result saved on disk.

``course grade`` writes one :class:`StudentResult` per student to ``course_results/<assignment>/``;
``course feedback`` and the next ``course grade`` (to skip unchanged submissions) read it back. The
format carries a version: a file of another version is regraded, never misread (version 3 added what
the checks named: mistakes, refused shortcuts and the parts of a partial-credit cell, which ``course
report`` counts).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

VERSION = 3


@dataclass
class CellResult:
    """One test cell's verdict, decided in the grader's process."""

    grade_id: str
    passed: bool
    messages: list[str] = field(default_factory=list)  # the checker's lines, bilingual
    hidden_failed: bool = False
    score: float | None = None  # partial credit earned, when the cell gives it (else all or nothing)
    # what the checks named (autograder.recording): each known mistake {"id", "part", "stage", "ko", "en"},
    # each refused kind of shortcut {"kind", "found", "ko", "en"}, each part {"name", "passed", "failed_in"}
    mistakes: list[dict] = field(default_factory=list)
    shortcuts: list[dict] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def hidden_only(self) -> bool:
        """Whether the visible tests passed and a hidden one failed (for a cell with parts: some part
        failed, and every failed part first failed in a hidden test)."""
        if self.hidden_failed:
            return True
        failed = [p for p in self.parts if not p.get("passed")]
        return bool(failed) and all(p.get("failed_in") == "hidden" for p in failed)

    @classmethod
    def from_dict(cls, data: dict) -> CellResult:
        return cls(
            grade_id=str(data["grade_id"]),
            passed=bool(data["passed"]),
            messages=[str(m) for m in data.get("messages", [])],
            hidden_failed=bool(data.get("hidden_failed", False)),
            score=None if data.get("score") is None else float(data["score"]),
            mistakes=[_texts(m, "id", "part", "stage") for m in data.get("mistakes", [])],
            shortcuts=[_texts(s, "kind", "found") for s in data.get("shortcuts", [])],
            parts=[
                {
                    "name": str(p["name"]),
                    "passed": bool(p.get("passed")),
                    "failed_in": None if p.get("failed_in") is None else str(p["failed_in"]),
                }
                for p in data.get("parts", [])
            ],
        )


def _texts(entry: dict, *keys: str) -> dict:
    """A recorded mistake or shortcut: its keys (None stays None) and its text in each language."""
    out = {key: None if entry.get(key) is None else str(entry[key]) for key in keys}
    return {**out, "ko": str(entry.get("ko", "")), "en": str(entry.get("en", ""))}


@dataclass
class NotebookResult:
    """A graded notebook's cells, or the reason it scores zero (missing, unreadable)."""

    cells: list[CellResult] = field(default_factory=list)
    zero: str | None = None

    def as_dict(self) -> dict:
        if self.zero is not None:
            return {"zero": self.zero}
        return {"cells": [c.as_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: dict) -> NotebookResult:
        if "zero" in data:
            return cls(zero=str(data["zero"]))
        return cls(cells=[CellResult.from_dict(c) for c in data.get("cells", [])])


@dataclass
class StudentResult:
    student: str
    notes: list[str] = field(default_factory=list)  # for the student (and the instructor), bilingual
    instructor_notes: list[str] = field(default_factory=list)  # problems in the instructor's own cells
    notebooks: dict[str, NotebookResult] = field(default_factory=dict)
    fingerprint: str = ""
    score: float | None = None
    max_score: float | None = None

    def to_json(self) -> str:
        data = {
            "version": VERSION,
            "student": self.student,
            "notes": self.notes,
            "instructor_notes": self.instructor_notes,
            "notebooks": {name: nb.as_dict() for name, nb in self.notebooks.items()},
            "fingerprint": self.fingerprint,
            "score": self.score,
            "max_score": self.max_score,
        }
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> StudentResult:
        """Raises ``ValueError`` for anything that is not a result of this version."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} grading result")
        return cls(
            student=str(data["student"]),
            notes=[str(n) for n in data.get("notes", [])],
            instructor_notes=[str(n) for n in data.get("instructor_notes", [])],
            notebooks={str(k): NotebookResult.from_dict(v) for k, v in data.get("notebooks", {}).items()},
            fingerprint=str(data.get("fingerprint", "")),
            score=data.get("score"),
            max_score=data.get("max_score"),
        )
