"""``course feedback``: one HTML page per student and notebook, in Korean and English, without hidden tests.

Scores come from the gradebook (so manual grades, comments and late penalties are included); what passed
and failed, and why, comes from ``course grade``'s results. The page shows the exercise prose, the
student's own answers and, for each test, its points and the checker's messages, never the test's code.
Pages go where nbgrader puts feedback (``feedback/<student>/<assignment>/<notebook>.html``), next to
the files of the graded folder that nbgrader's ``generate_feedback`` copies there (``timestamp.txt`` and
``submission_secret.txt`` among them), so ``nbgrader release_feedback`` hands them out as usual.

What a page may show is decided from the gradebook and the hidden-test markers, never from the
metadata in the student's file: a test cell of the gradebook never shows its code, and whatever code or
text a page shows loses every hidden-test region (nbgrader's own delimiters, matched as nbgrader's
``ClearHiddenTests`` matches them) and every line that only a hidden test of the assignment contains.
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from ..messages import render
from . import nbgrader_api
from .cells import HIDDEN_BEGIN, HIDDEN_END, is_test, nbgrader_meta
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


class Hidden:
    """What no feedback page may show, read from the gradebook: the assignment's test cells and every
    line of its hidden-test regions (lines that visible code also has are public, and kept)."""

    def __init__(self, gb, assignment: str, config) -> None:
        options = config.get("ClearHiddenTests", {})
        self.begin = {HIDDEN_BEGIN, str(options.get("begin_test_delimeter", "BEGIN HIDDEN TESTS"))}
        self.end = {HIDDEN_END, str(options.get("end_test_delimeter", "END HIDDEN TESTS"))}
        self.tests: set[tuple[str, str]] = set()  # (notebook, grade id)
        self.solutions: set[tuple[str, str]] = set()
        self.grades: set[tuple[str, str]] = set()
        hidden, visible = set(), set()
        for notebook in gb.find_assignment(assignment).notebooks:
            solutions = {c.name for c in notebook.solution_cells}
            for cell in notebook.grade_cells:
                self.grades.add((notebook.name, cell.name))
                if cell.name not in solutions and cell.cell_type == "code":
                    self.tests.add((notebook.name, cell.name))
            self.solutions |= {(notebook.name, name) for name in solutions}
            for cell in notebook.source_cells:
                inside = False
                for line in (cell.source or "").splitlines():
                    if self._marks(line, self.begin):
                        inside = True
                    elif self._marks(line, self.end):
                        inside = False
                    else:
                        (hidden if inside else visible).add(line.strip())
        self.lines = {line for line in hidden - visible if any(ch.isalnum() for ch in line)}

    @staticmethod
    def _marks(line: str, delimiters: set[str]) -> bool:
        return any(d and d in line for d in delimiters)

    def clean(self, text: str, lines: bool = True) -> str:
        """``text`` without hidden-test regions, their markers, or (``lines``) any line of a hidden test.

        An answer cell (the gradebook's) keeps lines a hidden test happens to share: nbgrader never
        writes into an answer, so what it holds is the student's own (a correct formula is often the
        very line a hidden reference computes)."""
        kept, inside = [], False
        for line in str(text).splitlines():
            if self._marks(line, self.begin):
                inside = True
            elif self._marks(line, self.end):
                inside = False
            elif not inside and not (lines and line.strip() in self.lines):
                kept.append(line)
        return "\n".join(kept)


def render_notebook(
    nb,
    result: StudentResult,
    name: str,
    grades: dict,
    comments: dict,
    header: list[str],
    hidden: Hidden,
) -> str:
    entry = result.notebooks.get(name)
    cells = {c.grade_id: c.as_dict() for c in (entry.cells if entry else [])}
    body = list(header)

    def code(text: str, lines: bool = True) -> str:
        return f"<pre>{_esc(hidden.clean(text, lines))}</pre>"

    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        key = (name, grade_id) if isinstance(grade_id, str) else None
        if key in hidden.tests or is_test(cell):
            # a test: its points and the checker's messages, never its code
            result = cells.get(grade_id, {"passed": False, "messages": []})
            grade = grades.get(grade_id)
            status = "passed" if result.get("passed") else "failed"
            label = render("feedback_passed" if result.get("passed") else "feedback_failed").replace(
                "\n", " · "
            )
            points = f"{grade[0]:g} / {grade[1]:g}" if grade else ""
            messages = hidden.clean("\n".join(result.get("messages", [])))
            body.append(
                f'<div class="check {status}"><span class="points">{_esc(points)}</span> '
                f"{_esc(label)} <code>{_esc(grade_id)}</code>"
                + (f"<pre>{_esc(messages)}</pre>" if messages.strip() else "")
                + _comment(comments.get(grade_id))
                + "</div>"
            )
        elif key in hidden.solutions:
            body.append(code(cell.source, lines=False))
            if key in hidden.grades:
                grade = grades.get(grade_id)
                points = f"{grade[0]:g} / {grade[1]:g}" if grade and grade[0] is not None else "— "
                body.append(
                    f'<div class="check manual"><span class="points">{_esc(points)}</span> '
                    f"{_esc(render('feedback_manual').replace(chr(10), ' · '))}"
                    + _comment(comments.get(grade_id))
                    + "</div>"
                )
        elif cell.cell_type == "markdown":
            body.append(f'<div class="prose">{_esc(hidden.clean(cell.source))}</div>')
        else:
            body.append(code(cell.source))
    return _page(header[0] if header else name, body)


def _comment(text: str | None) -> str:
    return f'<p class="comment">{_esc(text)}</p>' if text else ""


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def write_feedback(
    root: Path, assignment: str, students: list[str], warn: Callable[[str], None] = _warn
) -> tuple[int, Path]:
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import find_all_files

    coursedir = nbgrader_api.coursedir(Path(root))
    results = Path(root) / RESULTS / assignment
    out = Path(root) / "feedback"
    count = 0
    unsecret = []
    records = sorted(results.glob("*.json")) if results.is_dir() else []
    if not records:
        return count, out
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            hidden = Hidden(gb, assignment, coursedir.config)
        except MissingEntry:
            return count, out  # results of an assignment the gradebook no longer has
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
            header += [
                f'<p class="note">{_esc(hidden.clean(n)).replace(chr(10), "<br>")}</p>' for n in result.notes
            ]
            graded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
            target = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".feedback-", dir=target.parent))
            try:
                # the graded folder's other files, as nbgrader's generate_feedback copies them: among
                # them timestamp.txt and submission_secret.txt, which release_feedback reads
                if graded.is_dir():
                    ignore = list(coursedir.ignore) + ["*.ipynb", "*.html"]
                    for name in find_all_files(str(graded), ignore):
                        source = Path(name)
                        if source.is_symlink() or not source.is_file():
                            continue
                        copy = staging / source.relative_to(graded)
                        copy.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(source, copy)
                if not (staging / "timestamp.txt").is_file() and submission.timestamp is not None:
                    stamp = f"{submission.timestamp:%Y-%m-%d %H:%M:%S.%f} UTC"
                    (staging / "timestamp.txt").write_text(stamp, encoding="utf-8")
                if not (staging / "submission_secret.txt").is_file():
                    unsecret.append(student)
                for notebook in submission.notebooks:
                    name = notebook.name
                    entry = result.notebooks.get(name)
                    grades = {g.name: (g.score, g.max_score) for g in notebook.grades}
                    comments = {c.name: c.comment for c in notebook.comments if c.comment}
                    page_header = [*header, f"<h2>{_esc(name)}.ipynb</h2>"]
                    if entry is None or entry.zero is not None or not (graded / f"{name}.ipynb").is_file():
                        reason = hidden.clean((entry.zero if entry else None) or "")
                        note = f'<p class="note">{_esc(reason).replace(chr(10), "<br>")}</p>'
                        page = _page(title, [*page_header, note])
                    else:
                        nb = nbformat.read(graded / f"{name}.ipynb", as_version=4)
                        page = render_notebook(nb, result, name, grades, comments, page_header, hidden)
                    (staging / f"{name}.html").write_text(page, encoding="utf-8")
                nbgrader_api.set_permissions(coursedir, staging, "GenerateFeedback")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            count += 1
    if unsecret:
        warn(render("feedback_no_secret", assignment=assignment, students=",".join(unsecret)))
    return count, out
