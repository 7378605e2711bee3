"""The nbgrader contract, with real nbgrader: validate, validate --invert, autograde full and zero marks,
and Korean-only, English-only and bilingual releases grading into one gradebook."""

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.bilingual import cell_lang
from autograder.build import build_release
from autograder.course import Course
from tests.conftest import ROOT

pytestmark = pytest.mark.nbgrader

COURSE = Course(ROOT)
NOTEBOOKS = sorted(COURSE.source.glob("*/*.ipynb"))
IDS = [p.relative_to(COURSE.source).as_posix() for p in NOTEBOOKS]


def nbgrader(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def answered(release_nb, source_nb):
    """``release_nb`` with every solution cell filled in as a student would: with the solution's code."""
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source_nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = solutions[meta["grade_id"]]
    return nb


def submit(course_dir: Path, student: str, assignment: str, nb) -> None:
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, notebook in nb.items():
        nbformat.write(notebook, folder / name)


def scores(course_dir: Path, assignment: str) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def awaiting_manual_grade(course_dir: Path, assignment: str) -> dict[str, bool]:
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        return {s.student.id: s.needs_manual_grade for s in gb.assignment_submissions(assignment)}


def points(assignment: str) -> tuple[float, float]:
    """(all points, autograded points) of an assignment's grade cells, read from the source notebooks.

    A grade cell of type code is a test that autograde scores; a grade cell of type markdown is a written
    answer that autograde leaves to the instructor (it scores it 0 only when it is left blank).
    """
    total = auto = 0.0
    for path in (COURSE.source / assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                total += meta.get("points", 0)
                auto += meta.get("points", 0) if cell.cell_type == "code" else 0
    return total, auto


@pytest.fixture(scope="module")
def class_dir(tmp_path_factory):
    """A fresh instructor's course folder: config and sources copied, assignments generated (gradebook)."""
    work = tmp_path_factory.mktemp("class")
    shutil.copy(COURSE.config, work)
    shutil.copytree(COURSE.source, work / "source")
    for assignment in COURSE.assignments():
        code, out = nbgrader("generate_assignment", assignment, "--force", cwd=work)
        assert code == 0, out
    return work


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solutions_pass_validate(path, class_dir):
    code, out = nbgrader("validate", str(path), cwd=class_dir)
    assert code == 0 and "Success! Your notebook passes all the tests." in out, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_release_fails_validate_invert(path, class_dir):
    release = COURSE.release / path.relative_to(COURSE.source)
    code, out = nbgrader("validate", "--invert", str(release), cwd=class_dir)
    assert code == 0 and "Success! The notebook does not pass any tests." in out, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stated_total_equals_the_points(path):
    nb = nbformat.read(path, as_version=4)
    points = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    ko = "\n".join(c.source for c in nb.cells if cell_lang(c) == "ko")
    en = "\n".join(c.source for c in nb.cells if cell_lang(c) == "en")
    assert re.search(r"총\s*(\d+)\s*점", ko), "the Korean intro must state the total: 총 N점"
    assert re.search(r"(\d+)\s+points in total", en), (
        "the English intro must state the total: N points in total"
    )
    assert int(re.search(r"총\s*(\d+)\s*점", ko).group(1)) == points
    assert int(re.search(r"(\d+)\s+points in total", en).group(1)) == points


@pytest.fixture(scope="module")
def graded(class_dir):
    """Every assignment autograded for two students: the sources as submitted, and the blank release."""
    for assignment in COURSE.assignments():
        sources = {
            p.name: nbformat.read(p, as_version=4) for p in (COURSE.source / assignment).glob("*.ipynb")
        }
        blanks = {
            p.name: nbformat.read(p, as_version=4) for p in (COURSE.release / assignment).glob("*.ipynb")
        }
        submit(class_dir, "solution", assignment, sources)
        submit(class_dir, "blank", assignment, blanks)
        code, out = nbgrader("autograde", assignment, "--force", cwd=class_dir)
        assert code == 0, out
    return class_dir


def test_solutions_get_full_marks_and_blank_releases_zero(graded):
    """Sources earn every autograded point, and a written answer waits for the instructor; blanks earn 0."""
    for assignment in COURSE.assignments():
        total, auto = points(assignment)
        got = scores(graded, assignment)
        score, maximum = got["solution"]
        assert maximum == total > 0 and score == auto > 0
        assert got["blank"] == (0.0, maximum)
        pending = awaiting_manual_grade(graded, assignment)
        assert pending["solution"] == (auto < total) and not pending["blank"]


def test_feedback_and_export_close_the_cycle(graded):
    """nbgrader's own feedback and CSV export carry the grades that autograde stored."""
    for assignment in COURSE.assignments():
        code, out = nbgrader("generate_feedback", assignment, "--force", cwd=graded)
        assert code == 0, out
        feedback = next((graded / "feedback" / "solution" / assignment).glob("*.html")).read_text()
        assert "✔" in feedback and "passed" in feedback and "통과" in feedback
    code, out = nbgrader("export", "--to", "grades.csv", cwd=graded)
    assert code == 0, out
    with open(graded / "grades.csv", newline="") as handle:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    for assignment in COURSE.assignments():
        for student, (score, maximum) in scores(graded, assignment).items():
            assert float(rows[assignment, student]["score"]) == score
            assert float(rows[assignment, student]["max_score"]) == maximum


def test_korean_english_and_bilingual_releases_grade_into_one_gradebook(class_dir, tmp_path):
    assignment = COURSE.assignments()[0]
    sources = {p.name: nbformat.read(p, as_version=4) for p in (COURSE.source / assignment).glob("*.ipynb")}
    for lang in ("ko", "en", "both"):
        released = build_release(COURSE, assignment, tmp_path / lang, lang)
        notebooks = {p.name: nbformat.read(p, as_version=4) for p in released.glob("*.ipynb")}
        for nb in notebooks.values():
            langs = {cell_lang(c) for c in nb.cells} - {None}
            assert langs == ({"ko", "en"} if lang == "both" else {lang})
        submit(
            class_dir,
            f"student_{lang}",
            assignment,
            {n: answered(nb, sources[n]) for n, nb in notebooks.items()},
        )
        submit(class_dir, f"blank_{lang}", assignment, notebooks)
    code, out = nbgrader("autograde", assignment, "--force", cwd=class_dir)
    assert code == 0, out
    got = scores(class_dir, assignment)
    maximum = got["student_ko"][1]
    for lang in ("ko", "en", "both"):
        assert got[f"student_{lang}"] == (maximum, maximum), (lang, out)
        assert got[f"blank_{lang}"] == (0.0, maximum), lang
    with Gradebook(f"sqlite:///{class_dir / 'gradebook.db'}") as gb:
        assert [a.name for a in gb.assignments] == COURSE.assignments()
