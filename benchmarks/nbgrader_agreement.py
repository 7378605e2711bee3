"""Do ``course grade`` and stock ``nbgrader autograde`` give the same grades on an ordinary nbgrader course?

The course is ``tests/compat/``: nbgrader-style assignments written the usual way (tests with
``try/except``, ``del``, a data file, magics in a setup cell, a student class, callbacks, manual and task
cells, several notebooks, hidden tests, partial credit, a timeout, a late-penalty plugin; and ps3, a
NumPy course: arrays, ``np.testing``, in-place edits, a data file read with ``np.loadtxt``, plots), and a
class made by code (``tests/compat/students.py``). This script

1. generates the assignments once (``nbgrader generate_assignment``, due dates in the gradebook),
   then makes two copies of that course with the same submissions (and their ``timestamp.txt``);
2. runs stock ``nbgrader autograde`` in one copy and ``course grade`` (sandboxed, the default) in the
   other, timing each;
3. reads both gradebooks with ``nbgrader.api.Gradebook`` and compares every grade cell of every student
   (automatic score and whether it awaits a manual grade), each notebook's late penalty and each
   submission's total.

It prints "N of M grade cells agree" (in all, and for each of the two courses), a table of the
disagreements (with the message ``course grade`` gave the student) and the wall time of each run.

    python benchmarks/nbgrader_agreement.py [--keep] [--student NAME ...] [--assignment ps3 ...]

``tests/test_compat.py`` runs the same comparison and checks each disagreement against the documented,
deliberate differences in ``tests/compat/differences.toml``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "tests" / "compat"
ASSIGNMENTS = ("ps1", "ps2", "ps3")
NUMPY = ("ps3",)  # the NumPy course's assignments (counted apart too)
COURSE_FILES = ("nbgrader_config.py", "late_penalty.py", "source")


def _students_module():
    spec = importlib.util.spec_from_file_location("compat_students", COURSE / "students.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


students = _students_module()


# ------------------------------------------------------------------------------------------ the class


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True, env=_env()
    )


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _must(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def generated_course(folder: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> Path:
    """The compatibility course at ``folder``, with due dates and its assignments generated."""
    folder.mkdir(parents=True)
    for name in COURSE_FILES:
        (shutil.copytree if (COURSE / name).is_dir() else shutil.copy)(COURSE / name, folder / name)
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "compat-course") as gb:
        for assignment in assignments:
            gb.update_or_create_assignment(assignment, duedate=students.DUE[assignment])
    for assignment in assignments:
        _must(nbgrader("generate_assignment", assignment, "--force", cwd=folder), "generate_assignment")
    return folder


def released(folder: Path, assignment: str) -> tuple[dict, dict]:
    """The released files of ``assignment`` ({name: notebook or bytes}) and its source notebooks."""
    release, sources = {}, {}
    for path in sorted((folder / "release" / assignment).iterdir()):
        if path.suffix == ".ipynb":
            release[path.name] = nbformat.read(path, as_version=4)
            sources[path.name] = nbformat.read(folder / "source" / assignment / path.name, as_version=4)
        elif path.is_file():
            release[path.name] = path.read_bytes()
    return release, sources


def place_submissions(folder: Path, names: list[str], assignments: tuple[str, ...] = ASSIGNMENTS) -> None:
    """Each student's files in ``submitted/<student>/<assignment>/``, with ``timestamp.txt``."""
    for assignment in assignments:
        release, sources = released(folder, assignment)
        for student in names:
            if assignment not in students.STUDENTS[student][1]:
                continue  # this student does not hand this assignment in
            files = students.submission(student, assignment, release, sources)
            target = folder / "submitted" / student / assignment
            students.write_files(files, target)
            (target / "timestamp.txt").write_text(students.STUDENTS[student][1][assignment])


# -------------------------------------------------------------------------------------------- grading


def run_nbgrader(folder: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> float:
    start = time.perf_counter()
    for assignment in assignments:
        done = nbgrader("autograde", assignment, "--force", cwd=folder)
        if done.returncode not in (0, 1):
            _must(done, "nbgrader autograde")
    return time.perf_counter() - start


def run_course(folder: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> float:
    start = time.perf_counter()
    for assignment in assignments:
        command = [
            sys.executable,
            "-m",
            "autograder.cli",
            "--root",
            str(folder),
            "grade",
            assignment,
            "--force",
        ]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=_env())
        if done.returncode not in (0, 1):
            _must(done, "course grade")
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------ comparing


def grades(folder: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> dict[tuple, tuple]:
    """Every grade cell's (automatic score, awaits a manual grade), by (student, assignment, notebook,
    grade id); each notebook's late penalty (grade id ``<late penalty>``) and each submission's total
    after its late penalty (notebook and grade id ``<total>``)."""
    out = {}
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "compat-course") as gb:
        for assignment in assignments:
            for submission in gb.assignment_submissions(assignment):
                student = submission.student.id
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        key = (student, assignment, notebook.name, grade.name)
                        out[key] = (grade.auto_score, bool(grade.needs_manual_grade))
                    key = (student, assignment, notebook.name, "<late penalty>")
                    out[key] = (notebook.late_submission_penalty, False)
                total = submission.score - (submission.late_submission_penalty or 0)
                out[(student, assignment, "<total>", "<total>")] = (total, False)
    return out


def _same(a: tuple, b: tuple) -> bool:
    (x, manual_x), (y, manual_y) = a, b
    if manual_x != manual_y:
        return False
    if x is None or y is None:
        return x is None and y is None
    return math.isclose(x, y, abs_tol=1e-9)


def course_message(folder: Path, key: tuple) -> str:
    """What ``course grade`` told the student about this cell (its first lines), or its notes."""
    from autograder.grading.records import StudentResult

    student, assignment, notebook, grade_id = key
    path = folder / "course_results" / assignment / f"{student}.json"
    try:
        result = StudentResult.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(no course result)"
    entry = result.notebooks.get(notebook)
    if entry is not None and entry.zero:
        return entry.zero
    for cell in entry.cells if entry is not None else []:
        if cell.grade_id == grade_id:
            return " / ".join(cell.messages) or ("passed" if cell.passed else "failed")
    return " / ".join(result.notes) or "-"


@dataclass
class Disagreement:
    student: str
    assignment: str
    notebook: str
    grade_id: str
    nbgrader: tuple
    course: tuple
    message: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.student, self.assignment, self.notebook, self.grade_id)


@dataclass
class Comparison:
    cells: int = 0  # grade cells compared
    cells_agree: int = 0
    totals: int = 0  # late penalties and submission totals compared
    totals_agree: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    assignments: tuple[str, ...] = ASSIGNMENTS
    by_course: dict[str, list[int]] = field(default_factory=dict)  # course: [cells agreeing, cells]


def compare(
    work: Path,
    names: list[str] | None = None,
    at_once: bool = False,
    assignments: tuple[str, ...] = ASSIGNMENTS,
) -> Comparison:
    """Grade the class both ways under ``work`` and compare the gradebooks. ``at_once`` runs the two
    graders side by side (faster; their times then measure nothing)."""
    names = names or list(students.STUDENTS)
    base = generated_course(work / "generated", assignments)
    place_submissions(base, names, assignments)
    stock, ours = work / "nbgrader", work / "course"
    shutil.copytree(base, stock)
    shutil.copytree(base, ours)
    result = Comparison(folders={"nbgrader": stock, "course": ours}, assignments=assignments)
    if at_once:
        with futures.ThreadPoolExecutor(2) as pool:
            stock_run = pool.submit(run_nbgrader, stock, assignments)
            course_run = pool.submit(run_course, ours, assignments)
            result.seconds = {"nbgrader autograde": stock_run.result(), "course grade": course_run.result()}
    else:
        result.seconds["nbgrader autograde"] = run_nbgrader(stock, assignments)
        result.seconds["course grade"] = run_course(ours, assignments)
    return compare_gradebooks(result)


def course_of(assignment: str) -> str:
    return "NumPy course (ps3)" if assignment in NUMPY else "ordinary course (ps1, ps2)"


def compare_gradebooks(result: Comparison) -> Comparison:
    """Fill ``result`` with the comparison of its two graded courses' gradebooks."""
    expected = grades(result.folders["nbgrader"], result.assignments)
    got = grades(result.folders["course"], result.assignments)
    ours = result.folders["course"]
    for key in sorted(set(expected) | set(got)):
        a, b = expected.get(key, (None, "missing")), got.get(key, (None, "missing"))
        total = key[3].startswith("<")
        agree = _same(a, b)
        if total:
            result.totals += 1
            result.totals_agree += agree
        else:
            result.cells += 1
            result.cells_agree += agree
            counts = result.by_course.setdefault(course_of(key[1]), [0, 0])
            counts[0] += agree
            counts[1] += 1
        if not agree:
            result.disagreements.append(Disagreement(*key, a, b, course_message(ours, key)))
    return result


def score_text(value: tuple) -> str:
    score, manual = value
    text = "-" if score is None else f"{score:g}"
    return text + (" (manual)" if manual is True else "")


def report(result: Comparison) -> str:
    lines = [
        f"{result.cells_agree} of {result.cells} grade cells agree",
        f"{result.totals_agree} of {result.totals} late penalties and totals agree",
        *(
            f"  {course}: {agree} of {cells} grade cells agree"
            for course, (agree, cells) in result.by_course.items()
        ),
        "",
    ]
    if result.disagreements:
        header = ("student", "notebook", "grade_id", "nbgrader", "course", "course grade's message")
        rows = [
            (
                d.student,
                f"{d.assignment}/{d.notebook}",
                d.grade_id,
                score_text(d.nbgrader),
                score_text(d.course),
                " ".join(d.message.split())[:110],
            )
            for d in result.disagreements
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
        for row in [header, *rows]:
            lines.append(
                "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[5]
            )
        lines.append("")
    lines.append("wall time:  " + "   ".join(f"{name} {s:.1f} s" for name, s in result.seconds.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch courses (their path is printed)"
    )
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument(
        "--assignment", action="append", choices=ASSIGNMENTS, help="only this assignment (repeatable)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nbgrader-agreement-"))
    try:
        result = compare(work, args.student, assignments=tuple(args.assignment or ASSIGNMENTS))
        print(report(result))
    finally:
        if args.keep:
            print(f"scratch courses kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
