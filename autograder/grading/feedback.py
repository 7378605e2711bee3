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

import base64
import io
import shutil
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import nbformat

from ..messages import render
from . import nbgrader_api
from .cells import HIDDEN_BEGIN, HIDDEN_END, Markers, is_test, nbgrader_meta
from .exercises import exercises
from .folders import staged_folder
from .paths import CoursePaths
from .records import StudentResult
from .text import problem_of

TEMPLATES = Path(__file__).parent / "templates"  # course-feedback/: nbconvert's lab template, extended

STYLE = """
:root {
  /* code and messages: an ASCII font of the page's own first, so that a backslash is drawn as a
     backslash; Korean fonts draw U+005C as the won sign */
  --jp-code-font-family: "Course Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  /* prose: the symbols first (✔ ✘ ∂; some Korean fonts draw a box for them), then Latin and Korean */
  --jp-content-font-family: "Course Symbols", system-ui, -apple-system, "Segoe UI", "Noto Sans KR",
    "NanumGothic", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif;
  --jp-ui-font-family: var(--jp-content-font-family);
}
body { font-family: var(--jp-content-font-family); }
main { max-width: 62rem; margin: 0 auto; }
.course-header h1 { font-size: 1.6rem; margin: 1rem 0 .4rem; }
.course-score { font-size: 1.25rem; font-weight: bold; margin: .2rem 0 .8rem; }
.course-score span { display: block; }
.course-header h2 { font-size: 1.15rem; margin: 1rem 0 .3rem; }
.course-header ul { list-style: none; padding-left: 0; margin: .2rem 0; }
.course-header a { color: inherit; text-decoration: none; }
.course-note { color: #8a5a00; }
.course-note, .course-messages {
  font-family: var(--jp-code-font-family); white-space: pre-wrap; font-size: .85rem; margin: .3rem 0;
}
.course-messages { background: #f6f8fa; padding: .45rem .6rem; border-radius: 3px; }
.course-check { border-left: 4px solid #999; padding: .25rem .7rem; margin: .5rem 0; }
.course-header .course-check { margin-left: 0; }
.course-check.passed { border-color: #1b7837; } .course-check.failed { border-color: #d62728; }
.course-check.manual { border-color: #7570b3; }
.course-mark { font-weight: bold; } .course-check.passed .course-mark { color: #1b7837; }
.course-check.failed .course-mark { color: #d62728; }
.course-points { font-weight: bold; margin: 0 .4rem; } .course-label { color: #555; margin-left: .4rem; }
.course-check details > summary { cursor: pointer; }
.course-comment { font-style: italic; margin: .3rem 0; }
"""


@cache
def mathjax() -> str:
    """MathJax 3 whole (TeX in, SVG out: no font files to fetch), from the django-static-mathjax package,
    to be inlined: the page typesets its math as JupyterLab does, offline and wherever it is opened."""
    import mathjax as package

    path = Path(package.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"
    script = path.read_text(encoding="utf-8")
    return script.replace("</script", "<\\/script")  # cannot end the <script> element it is inlined in


# what the checker's messages draw besides ASCII: Latin-1, Greek, punctuation (· — …), super- and subscripts,
# arrows, mathematical operators (∂ −), the warning sign ⚠ and the dingbats (✔ ✘ ✎)
SYMBOLS = [
    *range(0xA0, 0x100),
    *range(0x370, 0x400),
    *range(0x2000, 0x20A0),
    *range(0x2190, 0x2200),
    *range(0x2200, 0x2300),
    0x26A0,
    *range(0x2700, 0x27C0),
]


def _font_face(family: str, file: str, unicodes: list[int]) -> str:
    """``@font-face`` of ``family``: matplotlib's copy of a DejaVu font, cut by fontTools to the characters
    it has of ``unicodes``, inlined (no font file to fetch)."""
    import logging

    import matplotlib
    from fontTools import subset

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset": a table unused
    options = subset.Options()
    options.flavor = "woff"
    font = subset.load_font(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file), options)
    covered = sorted(set(unicodes) & set(font.getBestCmap()))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=covered)
    subsetter.subset(font)
    data = io.BytesIO()
    subset.save_font(font, data, options)
    encoded = base64.b64encode(data.getvalue()).decode("ascii")
    ranges = ", ".join(
        f"U+{first:04X}-{last:04X}" if last > first else f"U+{first:04X}" for first, last in _runs(covered)
    )
    return (
        f'@font-face {{ font-family: "{family}"; font-style: normal; font-weight: normal; '
        f'src: url(data:font/woff;base64,{encoded}) format("woff"); unicode-range: {ranges}; }}'
    )


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted ``numbers`` as (first, last) runs of consecutive ones."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return [(first, last) for first, last in runs]


@cache
def page_fonts() -> str:
    """The page's own fonts. "Course Mono" (DejaVu Sans Mono: ASCII and the checker's symbols) comes first
    for code, math and messages, so a backslash is drawn as a backslash whatever fonts the reader has
    (Korean fonts draw U+005C as ₩); "Course Symbols" (DejaVu Sans, no ASCII, no Hangul) draws the
    checker's symbols (✔ ✘ ∂ →) in the prose, which some Korean fonts draw as boxes."""
    mono = _font_face("Course Mono", "DejaVuSansMono.ttf", [*range(0x20, 0x7F), *SYMBOLS])
    return mono + "\n" + _font_face("Course Symbols", "DejaVuSans.ttf", SYMBOLS)


# what a rendered markdown cell may hold: the markup JupyterLab's own sanitizer lets through, no script
CLEAN_TAGS = {
    *("a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4"),
    *("h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "summary"),
    *("sup", "table", "tbody", "td", "th", "thead", "tr", "ul"),
}
CLEAN_ATTRIBUTES = {
    "*": ["class", "id", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["align", "colspan", "rowspan"],
    "th": ["align", "colspan", "rowspan"],
}


def course_clean(html_text: str) -> str:
    """Rendered markdown with only harmless markup left (bleach, as nbconvert's own ``clean_html``)."""
    import bleach

    protocols = [*bleach.sanitizer.ALLOWED_PROTOCOLS, "data"]  # images nbconvert embedded
    return bleach.clean(str(html_text), tags=CLEAN_TAGS, attributes=CLEAN_ATTRIBUTES, protocols=protocols)


def _line(key: str, **params: object) -> str:
    return render(key, **params).replace("\n", " · ")


def exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="course-feedback",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        filters={"course_clean": course_clean},  # the template cleans every markdown cell with it
        embed_images=True,
    )


def page(nb, heading: str, score: str, notes: list[str], notebook: str, checks: list[dict], path: Path):
    """The HTML of one feedback page: ``nb`` (its tests already replaced by verdicts) under a header with
    the score, the notes, every failure with its diagnosis, and one line per passed test."""
    kept = {key: nb.metadata[key] for key in ("kernelspec", "language_info") if nb.metadata.get(key)}
    nb.metadata = nbformat.NotebookNode({"title": heading, **kept})  # the language, for highlighting
    feedback = {
        "heading": heading,
        "score": score.splitlines(),
        "notes": notes,
        "notebook_heading": notebook,
        "failures": [c for c in checks if c["status"] == "failed"],
        "passes": [c for c in checks if c["status"] == "passed"],
        "failures_heading": _line("feedback_failures_heading"),
        "passes_heading": _line("feedback_passes_heading"),
        "mathjax": mathjax(),
        "css": page_fonts() + STYLE,
    }
    resources = {"course_feedback": feedback, "metadata": {"name": notebook, "path": str(path)}}
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    return body


class Hidden:
    """What no feedback page may show, read from the gradebook: the assignment's test cells and every
    line of its hidden-test regions (lines that visible code also has are public, and kept)."""

    def __init__(self, gb, assignment: str, config) -> None:
        markers = Markers.from_config(config)
        self.begin = {HIDDEN_BEGIN, markers.begin}
        self.end = {HIDDEN_END, markers.end}
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


def feedback_cells(nb, result: StudentResult, name: str, grades: dict, comments: dict, hidden: Hidden):
    """``nb`` as its feedback page shows it, and the verdict of each test: prose and the student's code
    cleaned of every hidden test, each test cell replaced by its verdict (points, the checker's messages,
    never its code), no outputs."""
    entry = result.notebooks.get(name)
    verdicts = {c.grade_id: c.as_dict() for c in (entry.cells if entry else [])}
    found = exercises(nb)
    cells, checks = [], []

    def verdict(grade_id: str, status: str, label: str, messages: str) -> nbformat.NotebookNode:
        grade = grades.get(grade_id)
        earned = "—" if not grade or grade[0] is None else f"{grade[0]:g}"
        exercise = found.get(grade_id)
        check = {
            "grade_id": grade_id,
            "status": status,
            "label": label,
            "points": f"{earned} / {grade[1]:g}" if grade else "",
            "title": exercise.title() if exercise else grade_id,
            "messages": messages,
            "comment": comments.get(grade_id) or "",
        }
        checks.append(check)
        return nbformat.v4.new_markdown_cell("", metadata={"course_feedback": check})

    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        key = (name, grade_id) if isinstance(grade_id, str) else None
        if key in hidden.tests or is_test(cell):
            verdict_of = verdicts.get(grade_id, {"passed": False, "messages": []})
            passed = bool(verdict_of.get("passed"))
            messages = hidden.clean("\n".join(verdict_of.get("messages", [])))
            exercise = found.get(grade_id)
            if not passed and exercise is not None and exercise.not_started():
                messages = render("check_not_started")  # not the stub's "NotImplementedError: "
            label = _line("feedback_passed" if passed else "feedback_failed")
            cells.append(verdict(grade_id, "passed" if passed else "failed", label, messages))
        elif key in hidden.solutions:
            cells.append(_shown(cell, hidden.clean(cell.source, lines=False)))
            if key in hidden.grades:
                cells.append(verdict(grade_id, "manual", _line("feedback_manual"), ""))
        else:
            cells.append(_shown(cell, hidden.clean(cell.source)))
    shown = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return shown, checks


def _shown(cell, source: str) -> nbformat.NotebookNode:
    """A cell of the page: its cleaned source, no outputs, no metadata of the student's."""
    if cell.cell_type == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    if cell.cell_type == "code":
        return nbformat.v4.new_code_cell(source)
    return nbformat.v4.new_raw_cell(source)


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def write_feedback(
    root: Path, assignment: str, students: list[str], warn: Callable[[str], None] = _warn
) -> tuple[int, Path]:
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import find_all_files

    coursedir = nbgrader_api.coursedir(Path(root))
    paths = CoursePaths(coursedir)
    results = paths.results(assignment)
    out = paths.feedback_root()
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
            heading = _line("feedback_title", assignment=assignment, student=student)
            score = render("feedback_score", score=submission.score, max_score=submission.max_score)
            notes = [hidden.clean(n) for n in result.notes]
            graded = paths.autograded(student, assignment)
            target = paths.feedback(student, assignment)
            try:
                with staged_folder(target) as staging:
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
                    source = paths.source(assignment)
                    for notebook in submission.notebooks:
                        name = notebook.name
                        entry = result.notebooks.get(name)
                        grades = {g.name: (g.score, g.max_score) for g in notebook.grades}
                        comments = {c.name: c.comment for c in notebook.comments if c.comment}
                        if (
                            entry is None
                            or entry.zero is not None
                            or not (graded / f"{name}.ipynb").is_file()
                        ):
                            reason = hidden.clean((entry.zero if entry else None) or "")
                            shown, checks = nbformat.v4.new_notebook(), []
                            page_notes = [*notes, reason] if reason else notes
                        else:
                            nb = nbformat.read(graded / f"{name}.ipynb", as_version=4)
                            shown, checks = feedback_cells(nb, result, name, grades, comments, hidden)
                            page_notes = notes
                        html = page(shown, heading, score, page_notes, f"{name}.ipynb", checks, source)
                        (staging / f"{name}.html").write_text(html, encoding="utf-8")
                    nbgrader_api.set_permissions(coursedir, staging, "GenerateFeedback")
            except Exception as error:  # noqa: BLE001 - one student's page never stops the class's
                problem = problem_of(error)
                warn(render("feedback_student_failed", student=student, problem=problem))
                continue
            count += 1
    if unsecret:
        warn(render("feedback_no_secret", assignment=assignment, students=",".join(unsecret)))
    return count, out
