"""``course export --format canvas|moodle``: the gradebook's grades as the CSV file an LMS imports.

Every grade is the one ``nbgrader export`` writes for that student and assignment: the submission's score
less its late penalty (never below 0), and 0 for a student with no submission, so the LMS receives exactly
the grades nbgrader's own CSV holds, manual grades included. Students are identified from nbgrader's student
records (``nbgrader db student add --first-name … --last-name … --email … --lms-user-id …``):

- **Canvas** (Grades → Import): the layout of Canvas's own gradebook export, whose first columns are
  ``Student, ID, SIS User ID, SIS Login ID, Section``, a ``Points Possible`` row under the header, then one
  column per assignment. Canvas matches a row by its ``ID`` (the Canvas user id: nbgrader's
  ``lms_user_id``) or its ``SIS Login ID`` (here the nbgrader student id, which is the hub login). A column
  named after an assignment Canvas does not know yet becomes a new assignment.
- **Moodle** (Grades → Import → CSV file): the columns of Moodle's own grade export, ``First name, Last
  name, ID number, Institution, Department, Email address``, then ``Username`` (the nbgrader id, which
  Moodle's export adds when username is one of its export fields) and one column per assignment named
  ``<assignment> (Real)``. In the import form, "Map from" picks the column that identifies a student:
  ``Email address`` → email address, ``ID number`` (``lms_user_id``) → ID number, or ``Username``.

Both files are UTF-8, written with the csv module. A student whose record lacks what the LMS matches on is
still written (no grade is left out) and named on stderr, in Korean and English.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from . import nbgrader_api

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"  # Canvas's own export indents the row's label
MOODLE_COLUMNS = ("First name", "Last name", "ID number", "Institution", "Department", "Email address")
MOODLE_USERNAME = "Username"  # after them, as Moodle's export puts it when username is an export field
FORMATS = ("canvas", "moodle")


@dataclass
class Export:
    """What was written: how many students and assignments, and who the LMS may not be able to match."""

    path: Path
    students: int = 0
    assignments: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # only the nbgrader id to be matched on
    unsubmitted: int = 0  # (student, assignment) pairs exported as 0 because nothing was submitted


def number(value: float) -> str:
    """A grade as written: exactly (the shortest text that reads back as the same float)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def grades(gb, assignments: list[str]) -> dict[tuple[str, str], tuple[float, bool]]:
    """(student, assignment) → (the grade ``nbgrader export`` writes, whether a submission exists)."""
    out = {}
    for assignment in assignments:
        submitted = {s.student.id: s for s in gb.assignment_submissions(assignment)}
        for student in gb.students:
            submission = submitted.get(student.id)
            if submission is None:
                out[student.id, assignment] = (0.0, False)
            else:
                score = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
                out[student.id, assignment] = (score, True)
    return out


def write(root: Path, fmt: str, path: Path, assignments: list[str] | None = None) -> Export:
    """Write the grades of ``assignments`` (default: every assignment of the gradebook) to ``path``."""
    from ..course import CourseError

    coursedir = nbgrader_api.coursedir(Path(root))
    export = Export(Path(path))
    with nbgrader_api.gradebook(coursedir) as gb:
        known = {a.name: a for a in gb.assignments}
        wanted = list(assignments) if assignments else sorted(known)
        unknown = [a for a in wanted if a not in known]
        if unknown:
            raise CourseError(
                "export_unknown_assignment", assignments=", ".join(unknown), known=", ".join(known)
            )
        got = grades(gb, wanted)
        students = sorted(gb.students, key=lambda s: s.id)
        export.assignments, export.students = wanted, len(students)
        export.unsubmitted = sum(not submitted for _, submitted in got.values())
        rows: list[list[str]] = []
        if fmt == "canvas":
            header = [*CANVAS_COLUMNS, *wanted]
            rows.append([CANVAS_POINTS, "", "", "", "", *(number(known[a].max_score) for a in wanted)])
            for student in students:
                name = ", ".join(p for p in (student.last_name, student.first_name) if p) or student.id
                rows.append(
                    [name, student.lms_user_id or "", "", student.id, ""]
                    + [number(got[student.id, a][0]) for a in wanted]
                )
                if not student.lms_user_id:
                    export.unmatched.append(student.id)  # matched by SIS Login ID (the nbgrader id) only
        elif fmt == "moodle":
            header = [*MOODLE_COLUMNS, MOODLE_USERNAME, *(f"{a} (Real)" for a in wanted)]
            for student in students:
                if not (student.email or student.lms_user_id):
                    export.unmatched.append(student.id)
                rows.append(
                    [
                        student.first_name or "",
                        student.last_name or "",
                        student.lms_user_id or "",
                        "",
                        "",
                        student.email or "",
                        student.id,
                    ]
                    + [number(got[student.id, a][0]) for a in wanted]
                )
        else:
            raise ValueError(f"unknown LMS format {fmt!r}; the formats are {FORMATS}")
    export.path.parent.mkdir(parents=True, exist_ok=True)
    temporary = export.path.with_name(export.path.name + ".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    temporary.replace(export.path)
    return export
