"""nbgrader's gradebook: submissions registered, automatic scores stored (manual grades are never
touched), scores read back."""

from __future__ import annotations

from pathlib import Path


def resources(coursedir, assignment: str, student: str, notebook: str) -> dict:
    """What nbgrader's preprocessors read besides the notebook."""
    return {
        "nbgrader": {
            "notebook": notebook,
            "assignment": assignment,
            "student": student,
            "db_url": coursedir.db_url,
        },
        "metadata": {"path": ""},
    }


def gradebook(coursedir):
    from nbgrader.api import Gradebook

    return Gradebook(coursedir.db_url, coursedir.course_id)


def register_submission(gb, coursedir, assignment: str, student: str, folder: Path) -> list[str]:
    """Record the submission (with its ``timestamp.txt``) and return the assignment's notebook names."""
    timestamp = coursedir.get_existing_timestamp(str(folder))
    names = [n.name for n in gb.find_assignment(assignment).notebooks]
    gb.update_or_create_student(student)
    if timestamp:
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(assignment, student)
    return names


def save_scores(coursedir, assignment: str, student: str, name: str, nb) -> None:
    """nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties`` on a graded notebook."""
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    res = resources(coursedir, assignment, student, name)
    nb, res = SaveAutoGrades(config=coursedir.config).preprocess(nb, res)
    AssignLatePenalties(config=coursedir.config).preprocess(nb, res)


def zero_scores(coursedir, assignment: str, student: str, name: str) -> None:
    """Every automatic score of one notebook set to 0 (a missing or unreadable notebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for grade in gb.find_submission_notebook(name, assignment, student).grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def submission_score(coursedir, assignment: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return submission.score, submission.max_score


def assignment_scores(coursedir, assignment: str) -> dict[str, tuple[float, float]]:
    """Each student's (score, max score) for ``assignment``, as the gradebook has it (manual grades and
    late penalties included)."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def assignment_exists(coursedir, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    prefix = "sqlite:///"
    if coursedir.db_url.startswith(prefix) and not Path(coursedir.db_url[len(prefix) :]).is_file():
        return False  # no gradebook yet: opening one would create it, empty, in a folder that is no class
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True
