"""Every call into nbgrader that ``course`` makes, by stage: :mod:`.configuration` (``nbgrader_config.py``
and the ``CourseDirectory``), :mod:`.books` (the gradebook: submissions and scores) and :mod:`.files`
(the release, file modes, a submission's files). Preparing a submitted notebook with nbgrader's
preprocessors is a list of steps of its own, :mod:`autograder.grading.preparation`.
"""

from .books import (
    assignment_exists,
    assignment_scores,
    gradebook,
    register_submission,
    resources,
    save_scores,
    submission_score,
    zero_scores,
)
from .configuration import config, coursedir, execute_timeout
from .files import generate_release, set_permissions, submission_files

__all__ = [
    "assignment_exists",
    "assignment_scores",
    "config",
    "coursedir",
    "execute_timeout",
    "generate_release",
    "gradebook",
    "register_submission",
    "resources",
    "save_scores",
    "set_permissions",
    "submission_files",
    "submission_score",
    "zero_scores",
]
