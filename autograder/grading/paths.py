"""Every path grading reads or writes, from nbgrader's ``CourseDirectory`` (so a configured
``submitted_directory``, ``autograded_directory``, ``feedback_directory`` or ``directory_structure`` is
honoured everywhere), and the course's own results folder beside them."""

from __future__ import annotations

import glob
from pathlib import Path

RESULTS = "course_results"  # the course's records of each graded submission, per assignment


class CoursePaths:
    def __init__(self, coursedir) -> None:
        self.coursedir = coursedir
        self.root = Path(coursedir.root)

    def _step(self, directory: str, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(directory, student, assignment))

    def submitted(self, student: str, assignment: str) -> Path:
        return self._step(self.coursedir.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        return self._step(self.coursedir.autograded_directory, student, assignment)

    def feedback(self, student: str, assignment: str) -> Path:
        return self._step(self.coursedir.feedback_directory, student, assignment)

    def feedback_root(self) -> Path:
        return self.root / self.coursedir.feedback_directory

    def source(self, assignment: str) -> Path:
        return self._step(self.coursedir.source_directory, ".", assignment)

    def results(self, assignment: str) -> Path:
        return self.root / RESULTS / assignment

    def submitting_students(self, assignment: str) -> list[str]:
        """The students with a submission folder of ``assignment``, sorted."""
        marker = "\x00student\x00"
        pattern = self._step(self.coursedir.submitted_directory, marker, assignment)
        parts = pattern.parts
        where = next(i for i, part in enumerate(parts) if marker in part)
        wild = Path(*[glob.escape(p) if i != where else "*" for i, p in enumerate(parts)])
        found = {Path(p).parts[where] for p in glob.glob(str(wild)) if Path(p).is_dir()}
        return sorted(found)
