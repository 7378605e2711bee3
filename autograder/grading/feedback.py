"""``course feedback``: one HTML page per student and notebook, in Korean and English, without hidden tests.

Scores come from the gradebook (so manual grades, comments and late penalties are included); what passed
and failed, and why, comes from ``course grade``'s results. The page shows the exercise prose, the
student's own answers and, for each test, its points and the checker's messages, never the test's code.
Pages go where nbgrader puts feedback (``feedback/<student>/<assignment>/<notebook>.html``), so
``nbgrader release_feedback`` hands them out as usual.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from ..messages import render
from . import nbgrader_api
from .cells import is_test, nbgrader_meta
from .grader import RESULTS
from .records import StudentResult

STYLE = """
body { font-family: 'NanumGothic', 'Noto Sans KR', 'Apple SD Gothic Neo', sans-serif; max-width: 60rem;
       margin: 2rem auto; line-height: 1.5; color: #222; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.prose { white-space: pre-wrap; color: #444; }
.check { border-left: 4px solid #999; padding: .3rem .8rem; margin: .8rem 0; }
.check.passed { border-color: #1b7837; } .check.failed { border-color: #d62728; }
.check.manual { border-color: #7570b3; }
.points { font-weight: bold; } .note { color: #8a5a00; } .comment { color: #333; font-style: italic; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="ko">\n<head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def render_notebook(
    nb, result: StudentResult, name: str, grades: dict, comments: dict, header: list[str]
) -> str:
    entry = result.notebooks.get(name)
    cells = {c.grade_id: c.as_dict() for c in (entry.cells if entry else [])}
    body = list(header)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if is_test(cell):
            result = cells.get(grade_id, {"passed": False, "messages": []})
            grade = grades.get(grade_id)
            status = "passed" if result.get("passed") else "failed"
            label = render("feedback_passed" if result.get("passed") else "feedback_failed").replace(
                "\n", " · "
            )
            points = f"{grade[0]:g} / {grade[1]:g}" if grade else ""
            messages = "\n".join(result.get("messages", []))
            body.append(
                f'<div class="check {status}"><span class="points">{_esc(points)}</span> '
                f"{_esc(label)} <code>{_esc(grade_id)}</code>"
                + (f"<pre>{_esc(messages)}</pre>" if messages else "")
                + _comment(comments.get(grade_id))
                + "</div>"
            )
        elif meta.get("solution"):
            body.append(f"<pre>{_esc(cell.source)}</pre>")
            if meta.get("grade"):
                grade = grades.get(grade_id)
                points = f"{grade[0]:g} / {grade[1]:g}" if grade and grade[0] is not None else "— "
                body.append(
                    f'<div class="check manual"><span class="points">{_esc(points)}</span> '
                    f"{_esc(render('feedback_manual').replace(chr(10), ' · '))}"
                    + _comment(comments.get(grade_id))
                    + "</div>"
                )
        elif cell.cell_type == "markdown":
            body.append(f'<div class="prose">{_esc(cell.source)}</div>')
        elif meta.get("locked"):
            body.append(f"<pre>{_esc(cell.source)}</pre>")
        else:
            body.append(f"<pre>{_esc(cell.source)}</pre>")
    return _page(header[0] if header else name, body)


def _comment(text: str | None) -> str:
    return f'<p class="comment">{_esc(text)}</p>' if text else ""


def write_feedback(root: Path, assignment: str, students: list[str]) -> tuple[int, Path]:
    from nbgrader.api import Gradebook, MissingEntry

    coursedir = nbgrader_api.coursedir(Path(root))
    results = Path(root) / RESULTS / assignment
    out = Path(root) / "feedback"
    count = 0
    records = sorted(results.glob("*.json")) if results.is_dir() else []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for path in records:
            try:
                result = StudentResult.from_json(path.read_text(encoding="utf-8"))
            except (ValueError, KeyError, TypeError):
                continue  # a result of another version: `course grade` writes it anew
            student = result.student
            if students and student not in students:
                continue
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            title = render("feedback_title", assignment=assignment, student=student).replace("\n", " · ")
            score = render("feedback_score", score=submission.score, max_score=submission.max_score)
            header = [
                f"<h1>{_esc(title)}</h1>",
                f'<p class="points">{_esc(score).replace(chr(10), "<br>")}</p>',
            ]
            header += [f'<p class="note">{_esc(n).replace(chr(10), "<br>")}</p>' for n in result.notes]
            target = out / student / assignment
            target.mkdir(parents=True, exist_ok=True)
            for notebook in submission.notebooks:
                name = notebook.name
                entry = result.notebooks.get(name)
                grades = {g.name: (g.score, g.max_score) for g in notebook.grades}
                comments = {c.name: c.comment for c in notebook.comments if c.comment}
                graded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
                page_header = [*header, f"<h2>{_esc(name)}.ipynb</h2>"]
                if entry is None or entry.zero is not None or not (graded / f"{name}.ipynb").is_file():
                    reason = (entry.zero if entry else None) or ""

                    page = _page(
                        title, [*page_header, f'<p class="note">{_esc(reason).replace(chr(10), "<br>")}</p>']
                    )
                else:
                    nb = nbformat.read(graded / f"{name}.ipynb", as_version=4)
                    page = render_notebook(nb, result, name, grades, comments, page_header)
                (target / f"{name}.html").write_text(page, encoding="utf-8")
            count += 1
    return count, out
