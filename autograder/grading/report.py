"""``course report ASSIGNMENT``: what the class got wrong, on one page, in Korean and English.

The numbers come from two places: the gradebook (every score, manual grades and late penalties included) and
what ``course grade`` stored for each student in ``course_results/<assignment>/`` (the mistakes the checker
named, the shortcuts the rules refused, the parts of each partial-credit cell, hidden tests that failed where
the visible ones passed, and the reasons a grading left). :func:`collect` turns them into a
:class:`ClassReport`; :func:`write_report` writes

- ``course_results/<assignment>/report.html``: one page, its figures (matplotlib, Hangul in NanumGothic, see
  :mod:`autograder.plotting`) inlined as PNG, so it opens anywhere without other files;
- ``course_results/<assignment>/report/*.csv``: the same numbers, one table per file.

A student whose grading cannot be read (no result yet, or a result of an older version) is listed among the
reasons with what to run; the report never changes a grade.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import statistics
import string
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..bilingual import LANGS, cell_lang
from ..course import CourseError
from ..messages import LANGUAGES, catalogue, render
from . import nbgrader_api
from .exercises import heading
from .paths import RESULTS, CoursePaths
from .records import StudentResult
from .text import problem_of

TEMPLATES = Path(__file__).parent / "templates"
REPORT_TEMPLATE = "course-report/report.html.j2"
TOP_MISTAKES = 15  # bars in the mistakes figure (the tables list them all)


def both(key: str, **params: object) -> dict[str, str]:
    """Message ``key`` in each language: ``{"ko": ..., "en": ...}``."""
    return {lang: render(key, lang, **params) for lang in LANGUAGES}


# ---------------------------------------------------------------------------------------- the numbers


@dataclass
class Exercise:
    """One grade cell of the assignment and how the class did on it."""

    notebook: str
    grade_id: str
    titles: dict[str, str]  # language → title (the heading above the cell), the grade id when none
    points: float
    full: int = 0
    partial: int = 0
    zero: int = 0
    pending: int = 0  # a written answer the instructor has not graded yet
    hidden_only: int = 0  # students whose visible tests passed and a hidden one failed

    @property
    def students(self) -> int:
        return self.full + self.partial + self.zero + self.pending

    def share(self, count: int) -> float:
        return count / self.students if self.students else 0.0


@dataclass
class Named:
    """A known mistake (or a refused shortcut) on one exercise, and the students it was named for."""

    exercise: Exercise
    key: str  # the mistake id (mistakes.toml) or the shortcut's kind (rules.KINDS)
    students: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # the hint (or refusal) the checker gave, ko and en
    found: str = ""  # for a shortcut: what was found


@dataclass
class Reason:
    student: str
    category: str  # report_reason_<category> names it
    text: str  # what the grading said, in both languages


@dataclass
class Score:
    student: str
    score: float | None  # None: no submission
    max_score: float


@dataclass
class ClassReport:
    assignment: str
    max_score: float
    scores: list[Score]
    exercises: list[Exercise]
    mistakes: list[Named]
    shortcuts: list[Named]
    reasons: list[Reason]

    @property
    def submitted(self) -> list[float]:
        return [s.score for s in self.scores if s.score is not None]

    def bins(self) -> list[tuple[float, float, int]]:
        """The score histogram: (low, high, students), a bin holding low ≤ score < high. One point per bin
        up to 30 points, else 20 bins; the last bin starts at the full score, so full marks stand alone."""
        top = self.max_score or max(self.submitted, default=1.0) or 1.0
        count = int(top) if top <= 30 and float(top).is_integer() else 20
        width = top / count
        edges = [round(i * width, 10) for i in range(count + 2)]
        counted = [0] * (count + 1)
        for score in self.submitted:
            counted[min(max(int(score / width), 0), count)] += 1
        return [(edges[i], edges[i + 1], counted[i]) for i in range(count + 1)]


class ReportError(CourseError):
    """A report that cannot be made (unknown assignment, nothing graded yet): a bilingual message."""


# ------------------------------------------------------------------------------------- the reasons

# the message keys a grading's notes and zeros are made of, and the reason each one is
REASONS = {
    "grade_timeout": "timeout",
    "grade_died": "died",
    "grade_missing_notebook": "missing",
    "grade_unreadable_notebook": "unreadable",
    "grade_renamed_notebook": "renamed",
    "grade_restored_cells": "cells",
    "grade_duplicate_cells": "cells",
    "grade_instructor_cell": "instructor",
    "grade_internal": "internal",
}
# of a failed test's messages, only these say something about the grading itself (the rest is the answer)
CELL_REASONS = ("grade_timeout", "grade_died")


@cache
def _pattern(key: str) -> re.Pattern:
    """A message's templates as one pattern: its fixed text, anything where a placeholder goes."""
    alternatives = []
    for lang in LANGUAGES:
        parts = string.Formatter().parse(catalogue()[key][lang])
        alternatives.append(
            "".join(re.escape(text) + (".*?" if name is not None else "") for text, name, _, _ in parts)
        )
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.S)


def reasons_in(text: str, keys=REASONS) -> list[str]:
    """The reasons (``REASONS`` values) whose messages ``text`` holds, in the order of ``keys``."""
    found = []
    for key in keys:
        reason = REASONS[key]
        if reason not in found and _pattern(key).search(text):
            found.append(reason)
    return found


def _student_reasons(result: StudentResult) -> list[Reason]:
    """Each reason one student's grading left: notes, notebooks scored zero, and tests stopped by a time
    limit or a dead process."""
    out: list[Reason] = []

    def add(text: str, categories: list[str]) -> None:
        for category in categories:
            if not any(r.category == category and r.text == text for r in out):
                out.append(Reason(result.student, category, text))

    for note in result.notes:
        add(note, reasons_in(note) or ["other"])
    for entry in result.notebooks.values():
        if entry.zero is not None:
            add(entry.zero, reasons_in(entry.zero) or ["other"])
        for cell in entry.cells:
            for message in cell.messages:
                known = {r.category for r in out}
                add(message, [c for c in reasons_in(message, CELL_REASONS) if c not in known])
    return out


# ----------------------------------------------------------------------------------- collecting


def _titles(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """A source notebook's grade cells in order, and each one's title in each language."""
    import nbformat

    from .cells import nbgrader_meta

    order, titles, current = [], {}, {}
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - no source notebook: grade ids serve as titles
        return order, titles
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "markdown":
            title = heading(cell.source)
            if title:
                title = title.replace("`", "")  # inline code marks: the page and the figures show plain text
                lang = cell_lang(cell)
                for code in (lang,) if lang in LANGS else LANGS:
                    current[code] = title
        if meta.get("grade") and isinstance(meta.get("grade_id"), str):
            order.append(meta["grade_id"])
            titles[meta["grade_id"]] = dict(current)
    return order, titles


def _category(grade, maximum: float) -> str:
    if grade.needs_manual_grade and grade.manual_score is None:
        return "pending"
    score = grade.score or 0.0
    if score >= maximum:
        return "full"
    return "partial" if score > 0 else "zero"


def collect(root: Path, assignment: str) -> ClassReport:
    """The class's numbers for ``assignment``: the gradebook's scores, ``course grade``'s results."""
    root = Path(root)
    coursedir = nbgrader_api.coursedir(root)
    if not nbgrader_api.assignment_exists(coursedir, assignment):
        raise ReportError("grade_not_generated", assignment=assignment)
    paths = CoursePaths(coursedir)
    folder = paths.results(assignment)
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not records:
        raise ReportError("report_no_results", assignment=assignment, folder=f"{RESULTS}/{assignment}/")

    exercises: dict[tuple[str, str], Exercise] = {}
    scores: list[Score] = []
    with nbgrader_api.gradebook(coursedir) as gb:
        found = gb.find_assignment(assignment)
        max_score = float(found.max_score or 0.0)
        for notebook in found.notebooks:
            order, titles = _titles(root / "source" / assignment / f"{notebook.name}.ipynb")
            cells = {c.name: c for c in notebook.grade_cells}
            for name in [n for n in order if n in cells] + sorted(set(cells) - set(order)):
                names = titles.get(name) or {}
                exercises[notebook.name, name] = Exercise(
                    notebook.name,
                    name,
                    {lang: names.get(lang) or name for lang in LANGUAGES},
                    float(cells[name].max_score or 0.0),
                )
        submissions = {s.student.id: s for s in gb.assignment_submissions(assignment)}
        for student in sorted({s.id for s in gb.students} | set(submissions)):
            submission = submissions.get(student)
            if submission is None:
                scores.append(Score(student, None, max_score))
                continue
            # the grade `nbgrader export` writes: less the late penalty, never below 0
            final = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
            scores.append(Score(student, final, float(submission.max_score)))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    exercise = exercises.get((notebook.name, grade.name))
                    if exercise is not None:
                        category = _category(grade, exercise.points)
                        setattr(exercise, category, getattr(exercise, category) + 1)

    mistakes: dict[tuple, Named] = {}
    shortcuts: dict[tuple, Named] = {}
    reasons: list[Reason] = []
    graded = set()
    for path in records:
        try:
            result = StudentResult.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError, OSError) as error:
            problem = problem_of(error)
            text = render("report_old_result", assignment=assignment, problem=problem)
            reasons.append(Reason(path.stem, "not_graded", text))
            graded.add(path.stem)
            continue
        graded.add(result.student)
        reasons += _student_reasons(result)
        for name, entry in result.notebooks.items():
            for cell in entry.cells:
                exercise = exercises.get((name, cell.grade_id))
                if exercise is None:
                    continue  # a cell the gradebook no longer has
                exercise.hidden_only += cell.hidden_only
                for mistake in cell.mistakes:
                    named = mistakes.setdefault(
                        (name, cell.grade_id, mistake["id"]), Named(exercise, mistake["id"])
                    )
                    if result.student not in named.students:
                        named.students.append(result.student)
                        named.texts = named.texts or {lang: mistake[lang] for lang in LANGUAGES}
                for refused in cell.shortcuts:
                    named = shortcuts.setdefault(
                        (name, cell.grade_id, refused["kind"]), Named(exercise, refused["kind"])
                    )
                    if result.student not in named.students:
                        named.students.append(result.student)
                        named.texts = named.texts or {lang: refused[lang] for lang in LANGUAGES}
                        named.found = named.found or refused["found"]
    submitted = set(paths.submitting_students(assignment))
    for student in sorted((submitted | set(submissions)) - graded):
        reasons.append(Reason(student, "not_graded", render("report_not_graded", assignment=assignment)))
    ranked = list(exercises)

    def ranking(named: dict[tuple, Named]) -> list[Named]:
        return sorted(
            named.values(),
            key=lambda n: (-len(n.students), ranked.index((n.exercise.notebook, n.exercise.grade_id)), n.key),
        )

    reasons.sort(key=lambda r: (r.student, r.category))
    return ClassReport(
        assignment,
        max_score,
        scores,
        list(exercises.values()),
        ranking(mistakes),
        ranking(shortcuts),
        reasons,
    )


# ------------------------------------------------------------------------------------------ the figures

COLOURS = {"full": "#1b7837", "partial": "#e0a526", "zero": "#d62728", "pending": "#7570b3"}


def label(key: str, **params: object) -> str:
    """A figure's label in both languages on one line, Korean first: "점수 · score"."""
    return " · ".join(dict.fromkeys(render(key, lang, **params) for lang in LANGUAGES))


def short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def exercise_label(exercise: Exercise) -> str:
    """An exercise on an axis: its Korean title (which starts with its number), else its grade id."""
    return short(exercise.titles.get("ko") or exercise.grade_id)


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    data = io.BytesIO()
    figure.savefig(data, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(data.getvalue()).decode("ascii")


def figures(report: ClassReport) -> dict[str, str]:
    """Each figure of the page as base64 PNG: the score distribution, the marks per exercise, the mistakes
    named most often, and the hidden tests failed where the visible ones passed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import use_korean_font

    drawn = {}
    with matplotlib.rc_context({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False}):
        use_korean_font()
        bins = report.bins()
        figure, axes = plt.subplots(figsize=(7, 3.2))
        axes.bar(
            [low for low, _, _ in bins],
            [n for _, _, n in bins],
            width=[h - low for low, h, _ in bins],
            align="edge",
            color="#4a7ab7",
            edgecolor="white",
        )
        axes.set_xlabel(label("report_axis_score"))
        axes.set_ylabel(label("report_axis_students"))
        axes.set_xlim(0, bins[-1][1] if bins else 1)
        # each bar is labelled with the score its bin starts at (a bar per point: that score)
        step = 1 if len(bins) <= 16 else 2
        shown = bins[::step]
        axes.set_xticks([(low + high) / 2 for low, high, _ in shown], [_number(low) for low, _, _ in shown])
        axes.yaxis.get_major_locator().set_params(integer=True)
        drawn["distribution"] = _png(figure)

        rows = list(reversed(report.exercises))
        figure, axes = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.4))
        left = [0.0] * len(rows)
        for kind in ("full", "partial", "zero", "pending"):
            shares = [e.share(getattr(e, kind)) for e in rows]
            if any(shares) or kind != "pending":
                axes.barh(
                    [exercise_label(e) for e in rows],
                    shares,
                    left=left,
                    color=COLOURS[kind],
                    label=label(f"report_col_{kind}"),
                )
            left = [a + b for a, b in zip(left, shares, strict=True)]
        axes.set_xlim(0, 1)
        axes.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        axes.set_xlabel(label("report_axis_share"))
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=4, frameon=False)
        drawn["exercises"] = _png(figure)

        named = report.mistakes[:TOP_MISTAKES]
        if named:
            figure, axes = plt.subplots(figsize=(7, 0.4 * len(named) + 1.2))
            names = [f"{exercise_label(n.exercise)} · {n.key}" for n in reversed(named)]
            axes.barh(names, [len(n.students) for n in reversed(named)], color="#d62728")
            axes.set_xlabel(label("report_axis_students"))
            axes.xaxis.get_major_locator().set_params(integer=True)
            drawn["mistakes"] = _png(figure)

        hidden = [e for e in report.exercises if e.hidden_only]
        if hidden:
            figure, axes = plt.subplots(figsize=(7, 0.4 * len(hidden) + 1.2))
            axes.barh(
                [exercise_label(e) for e in reversed(hidden)],
                [e.hidden_only for e in reversed(hidden)],
                color="#7570b3",
            )
            axes.set_xlabel(label("report_axis_students"))
            axes.xaxis.get_major_locator().set_params(integer=True)
            drawn["hidden"] = _png(figure)
    return drawn


# ---------------------------------------------------------------------------------------- the tables


def _number(value: float | None) -> str:
    """A score as the CSV writes it: exactly (Python's shortest round-trip form), empty for none."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def tables(report: ClassReport) -> dict[str, tuple[list[str], list[list[object]]]]:
    """Every number of the page, as CSV tables: file name → (header, rows)."""
    titles = ["title_ko", "title_en"]

    def where(exercise: Exercise) -> list[object]:
        return [exercise.notebook, exercise.grade_id, exercise.titles["ko"], exercise.titles["en"]]

    def named_rows(named: list[Named], extra: bool) -> list[list[object]]:
        return [
            [rank, *where(n.exercise), n.key, len(n.students), ";".join(n.students)]
            + ([n.found] if extra else [])
            + [n.texts.get("ko", ""), n.texts.get("en", "")]
            for rank, n in enumerate(named, 1)
        ]

    return {
        "students.csv": (
            ["student", "submitted", "score", "max_score"],
            [
                [s.student, int(s.score is not None), _number(s.score), _number(s.max_score)]
                for s in report.scores
            ],
        ),
        "distribution.csv": (
            ["score_from", "score_below", "students"],
            [[_number(low), _number(high), n] for low, high, n in report.bins()],
        ),
        "exercises.csv": (
            [
                "notebook",
                "grade_id",
                *titles,
                "points",
                "students",
                "full",
                "partial",
                "zero",
                "pending",
                "hidden_only",
            ],
            [
                [
                    *where(e),
                    _number(e.points),
                    e.students,
                    e.full,
                    e.partial,
                    e.zero,
                    e.pending,
                    e.hidden_only,
                ]
                for e in report.exercises
            ],
        ),
        "mistakes.csv": (
            ["rank", "notebook", "grade_id", *titles, "mistake", "students", "who", "hint_ko", "hint_en"],
            named_rows(report.mistakes, extra=False),
        ),
        "shortcuts.csv": (
            [
                "rank",
                "notebook",
                "grade_id",
                *titles,
                "shortcut",
                "students",
                "who",
                "found",
                "message_ko",
                "message_en",
            ],
            named_rows(report.shortcuts, extra=True),
        ),
        "reasons.csv": (
            ["student", "reason", "reason_ko", "reason_en", "text"],
            [
                [r.student, r.category, *both(f"report_reason_{r.category}").values(), r.text]
                for r in report.reasons
            ],
        ),
    }


# -------------------------------------------------------------------------------------------- the page


def environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(report: ClassReport, drawn: dict[str, str]) -> str:
    """The report's HTML: one page, both languages, figures inlined."""
    submitted = report.submitted
    summary = both(
        "report_summary",
        students=len(report.scores),
        submitted=len(submitted),
        mean=statistics.fmean(submitted) if submitted else 0.0,
        max_score=report.max_score,
        median=statistics.median(submitted) if submitted else 0.0,
    )
    keys = [k for k in catalogue() if k.startswith("report_")]
    text = {k[len("report_") :]: both(k) for k in keys if not _needs_params(k)}
    by_student: dict[str, list[Reason]] = defaultdict(list)
    for reason in report.reasons:
        by_student[reason.student].append(reason)
    return (
        environment()
        .get_template(REPORT_TEMPLATE)
        .render(
            report=report,
            title=both("report_title", assignment=report.assignment),
            summary=summary,
            text=text,
            figures=drawn,
            reasons=dict(by_student),
            reason_names={r.category: both(f"report_reason_{r.category}") for r in report.reasons},
            hidden=sorted((e for e in report.exercises if e.hidden_only), key=lambda e: -e.hidden_only),
            number=_number,
        )
    )


def _needs_params(key: str) -> bool:
    return any(
        name for lang in LANGUAGES for _, name, _, _ in string.Formatter().parse(catalogue()[key][lang])
    )


def write_report(root: Path, assignment: str, output: Path | None = None) -> tuple[Path, Path]:
    """Write the page and its CSV tables; return (the page, the tables' folder)."""
    report = collect(root, assignment)
    folder = Path(output) if output else CoursePaths(nbgrader_api.coursedir(Path(root))).results(assignment)
    tables_dir = folder / "report"
    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables(report).items():
        with (tables_dir / name).open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
    path = folder / "report.html"
    path.write_text(page(report, figures(report)), encoding="utf-8")
    return path, tables_dir
