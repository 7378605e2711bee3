"""nbgrader configuration of the compatibility course (tests/compat): an ordinary nbgrader course,
graded both by stock ``nbgrader autograde`` and by ``course grade`` (benchmarks/nbgrader_agreement.py)."""

import os
import sys

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "compat-course"

# Seconds per cell: small, so that a student's endless loop costs little time.
c.Execute.timeout = 10
c.Execute.interrupt_on_timeout = True

# Late submissions lose points: the plugin lives beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
c.AssignLatePenalties.plugin_class = "late_penalty.OnePointPerDay"
