"""The README's instructor block, run as written, in a fresh copy of the course.

The block is the ```bash block after ``<!-- instructor-commands -->`` in README.md, taken as `.ci/run` takes
the test command. Each of its lines runs verbatim, in order, in the course folder, through bash, with
`course` and `nbgrader` from PATH; an nbgrader exchange is configured the way the README's JupyterHub
section says (a Jupyter config folder's ``nbgrader_config.py``). Right after ``nbgrader release_assignment``
two students fetch unit01 and submit it through that exchange (one every answer right, one a sign slip),
as JupyterLab's Assignment List does. The run ends with both grades in the exported ``grades.csv``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from tests import classes
from tests.conftest import ROOT, copy_course
from tests.test_exchange import Students

pytestmark = [pytest.mark.grading, pytest.mark.nbgrader]

BLOCK = re.compile(r"<!-- instructor-commands -->\s*```(?:bash|sh)\n(.+?)\n```", re.S)
ASSIGNMENT = "unit01"
TIMEOUT = 900


def instructor_block() -> list[str]:
    """The README's instructor commands, one per line, exactly as written (comments included)."""
    match = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no ```bash block after <!-- instructor-commands -->"
    return [
        line for line in match.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def sign_slip(answer: str) -> str:
    wrong = answer.replace("upstream * ", "-upstream * ")
    assert wrong != answer
    return wrong


@pytest.fixture(scope="module")
def played():
    """The block run in a fresh course, two students submitting through the exchange after step 2."""
    if shutil.which("course") is None:
        pytest.fail('the `course` command is not on PATH: python -m pip install -e ".[test]"')
    base = Path(tempfile.mkdtemp(prefix="course-readme-", dir="/tmp"))
    base.chmod(0o755)  # the students reach the exchange through it
    students = Students(base, ["alice", "bob"])
    try:
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)
        config = base / "jupyter-config"  # what /etc/jupyter/nbgrader_config.py is on a hub
        config.mkdir()
        (config / "nbgrader_config.py").write_text(f"c.Exchange.root = {str(exchange)!r}\n")
        root = copy_course(base / "course").root
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "PYTHONPATH": str(root)}
        env.pop("COURSE_LANG", None)
        committed = (root / "release" / ASSIGNMENT / "exercises.ipynb").read_bytes()
        ran = {}
        for line in instructor_block():
            started = time.monotonic()
            done = subprocess.run(
                ["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
            assert done.returncode == 0, f"README line failed: {line}\n{done.stdout}\n{done.stderr}"
            ran[line.split("#")[0].strip()] = done
            print(f"{time.monotonic() - started:6.1f} s  {line}")
            if line.startswith("nbgrader release_assignment"):
                submit(students)
        again = classes.course("grade", ASSIGNMENT, cwd=root, env=env, timeout=TIMEOUT, check=True)
        yield {"root": root, "ran": ran, "again": again, "ids": students.ids, "committed": committed}
    finally:
        students.close()
        shutil.rmtree(base, ignore_errors=True)


def submit(students: Students) -> None:
    """Both students fetch the release and submit: alice every answer, bob the first one with a sign slip."""
    students.run({name: ["fetch_assignment", ASSIGNMENT] for name in students.homes})
    slip = sign_slip(classes.solutions(ASSIGNMENT)["mul_gate_backward"])
    for name, change in (("alice", {}), ("bob", {"mul_gate_backward": slip})):
        path = students.homes[name] / ASSIGNMENT / "exercises.ipynb"
        release = nbformat.read(path, as_version=4)
        nbformat.write(classes.answered(ASSIGNMENT, release=release, change=change), path)
        students.give(name, path)
    students.run({name: ["submit", ASSIGNMENT] for name in students.homes})


def test_every_grade_ends_in_the_exported_csv(played):
    root, ids = played["root"], played["ids"]
    full = classes.scores(root, ASSIGNMENT)[ids["alice"]][1]
    expected = {ids["alice"]: full, ids["bob"]: full - 1}  # the multiply gate is worth 1 point
    assert classes.totals(root, ASSIGNMENT) == expected
    with (root / "grades.csv").open(encoding="utf-8") as rows:
        exported = {
            row["student_id"]: float(row["score"])
            for row in csv.DictReader(rows)
            if row["assignment"] == ASSIGNMENT
        }
    assert exported == expected


def test_course_grade_prints_each_students_score_and_the_results_folder(played):
    ran, ids = played["ran"], played["ids"]
    out = ran[f"course grade {ASSIGNMENT}"].stdout
    full = classes.scores(played["root"], ASSIGNMENT)[ids["alice"]][1]
    for student, score in ((ids["alice"], full), (ids["bob"], full - 1)):
        assert re.search(rf"^{student}\s+{score:g} / {full:g}\s+채점함 · graded$", out, re.M), out
    assert "2 graded, 0 skipped as unchanged, 0 failed" in out and "새로 채점 2명" in out, out
    assert f"course_results/{ASSIGNMENT}/" in out
    assert (played["root"] / "course_results" / ASSIGNMENT / "scores.csv").is_file()
    again = played["again"].stdout
    assert "0 graded, 2 skipped as unchanged, 0 failed" in again, again
    assert re.search(rf"^{ids['bob']}\s+{full - 1:g} / {full:g}\s+바뀌지 않아 건너뜀", again, re.M), again


def test_each_step_says_what_it_did(played):
    root, ran = played["root"], played["ran"]
    assert "up to date" in ran["course build"].stdout, ran["course build"].stdout
    released = ran[f"course release {ASSIGNMENT} --lang ko"]
    assert f"release-ko/{ASSIGNMENT}" in released.stdout, released.stdout + released.stderr
    assert (root / "release" / ASSIGNMENT / "exercises.ipynb").read_bytes() == played["committed"]
    assert (root / "release-ko" / ASSIGNMENT / "exercises.ipynb").is_file()
    for student in played["ids"].values():
        assert (root / "feedback" / student / ASSIGNMENT / "exercises.html").is_file()
    released_feedback = list((root.parent / "exchange").glob("*/feedback/*.html"))
    assert len(released_feedback) == 2, "release_feedback hands both pages back through the exchange"


def test_the_report_counts_the_slip_and_canvas_gets_both_grades(played):
    root, ids = played["root"], played["ids"]
    assert (root / "course_results" / ASSIGNMENT / "report.html").is_file()
    with (root / "course_results" / ASSIGNMENT / "report" / "mistakes.csv").open(encoding="utf-8") as rows:
        named = {(r["grade_id"], r["mistake"]): r["who"] for r in csv.DictReader(rows)}
    assert named == {("test_mul_gate_backward", "sign_flipped"): ids["bob"]}
    full = classes.scores(root, ASSIGNMENT)[ids["alice"]][1]
    with (root / "canvas.csv").open(encoding="utf-8") as rows:
        canvas = {r["SIS Login ID"]: r[ASSIGNMENT] for r in csv.DictReader(rows)}
    assert canvas.pop("") == f"{full:g}"  # the Points Possible row
    assert {s: float(v) for s, v in canvas.items()} == {ids["alice"]: full, ids["bob"]: full - 1}
