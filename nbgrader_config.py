"""nbgrader configuration for the course (course id, stubs, execution limits).

Run nbgrader commands from the course root (this folder), or let `course` do it for you.
"""

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "autograd-course"

# What a student sees in place of a solution: one stub for every language, so that a Korean-only,
# an English-only and a bilingual release have identical grade cells and checksums.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE (여기에 코드를 작성하십시오)\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE (여기에 답을 작성하십시오)"

# Execution limits for autograde and validate (seconds per cell).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = True
