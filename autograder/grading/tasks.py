"""What crosses the process boundary of ``course grade``, typed and versioned: the task handed to a job
slot (a local process or a Dask worker), the outcome it sends back, and the summary of a run.

Everything here is plain data (``as_dict``/``from_dict`` give dicts of str, numbers, lists and bytes),
so a task can be shipped anywhere, and a task or outcome of another version is refused, not misread.
The stored per-student records are beside these, in :mod:`.records`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .cells import Markers
from .records import CellResult
from .sandbox import Limits

VERSION = 1


class VersionMismatch(ValueError):
    pass


def _check(data: dict, kind: str) -> None:
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("kind") != kind:
        raise VersionMismatch(f"not a version {VERSION} {kind}")


@dataclass
class Task:
    """One student's notebooks to run, as prepared (sanitized, cells restored), with their files."""

    student: str
    notebooks: dict[str, dict]  # name → notebook (as a dict)
    files: dict[str, bytes]  # relative path → content: the submission's files, the source's laid over
    sandbox: bool = True
    limits: Limits = field(default_factory=Limits)
    markers: Markers = field(default_factory=Markers)

    def as_dict(self) -> dict:
        return {
            "version": VERSION,
            "kind": "task",
            "student": self.student,
            "notebooks": self.notebooks,
            "files": self.files,
            "sandbox": self.sandbox,
            "limits": asdict(self.limits),
            "markers": asdict(self.markers),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        _check(data, "task")
        return cls(
            student=data["student"],
            notebooks=data["notebooks"],
            files=data["files"],
            sandbox=bool(data["sandbox"]),
            limits=Limits(**data["limits"]),
            markers=Markers(**data["markers"]),
        )


@dataclass
class GradedNotebook:
    notebook: dict  # the notebook with outputs and verdicts, as nbgrader reads it
    cells: list[CellResult]

    def as_dict(self) -> dict:
        return {"notebook": self.notebook, "cells": [c.as_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: dict) -> GradedNotebook:
        return cls(data["notebook"], [CellResult.from_dict(c) for c in data["cells"]])


@dataclass
class Outcome:
    """What a job slot sends back for one task."""

    student: str
    notebooks: dict[str, GradedNotebook] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the student's feedback
    instructor_notes: list[str] = field(default_factory=list)  # problems of the instructor's cells

    def as_dict(self) -> dict:
        return {
            "version": VERSION,
            "kind": "outcome",
            "student": self.student,
            "notebooks": {name: nb.as_dict() for name, nb in self.notebooks.items()},
            "notes": list(self.notes),
            "instructor_notes": list(self.instructor_notes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        _check(data, "outcome")
        return cls(
            student=data["student"],
            notebooks={name: GradedNotebook.from_dict(nb) for name, nb in data["notebooks"].items()},
            notes=[str(n) for n in data["notes"]],
            instructor_notes=[str(n) for n in data["instructor_notes"]],
        )


@dataclass
class RunSummary:
    """One run of ``course grade``: who was graded, skipped as unchanged, or failed (with why)."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    instructor: dict[str, list[str]] = field(default_factory=dict)  # instructor note → students
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"version": VERSION, "kind": "summary", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> RunSummary:
        _check(data, "summary")
        fields = {k: v for k, v in data.items() if k not in ("version", "kind")}
        return cls(**fields)
