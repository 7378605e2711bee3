"""A late-submission plugin for the compatibility course: one point per started day late, per notebook,
never more than the notebook's score (nbgrader calls it from ``AssignLatePenalties``)."""

import math

from nbgrader.plugins import LateSubmissionPlugin


class OnePointPerDay(LateSubmissionPlugin):
    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        return float(min(score, days))
