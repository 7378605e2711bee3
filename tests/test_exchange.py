"""nbgrader's whole exchange cycle around ``course grade`` and ``course feedback``, with real nbgrader.

The instructor generates and releases unit01; two students, each a Unix user of their own when the test
runs as root (else one user with a home and ``--student`` id per student), fetch it and submit (one the
solutions, one the blank release); the instructor collects, grades with ``course grade``, writes feedback
with ``course feedback`` and releases it with ``nbgrader release_feedback``; each student fetches their
own feedback page. Then stock ``nbgrader autograde`` / ``generate_feedback`` on the same submissions
leave the same files as ``course grade`` / ``course feedback``.
"""

from __future__ import annotations

import html
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grading.cells import HIDDEN_BEGIN
from tests import classes
from tests.accounts import Accounts, can_create_users
from tests.conftest import ROOT, copy_course
from tests.nbcells import hidden_only_lines

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "unit01"
COURSE_ID = "autograd-course"
FULL = float(  # the assignment's points, as its source states them
    sum(
        cell.metadata["nbgrader"].get("points", 0)
        for cell in nbformat.read(ROOT / "source" / ASSIGNMENT / "exercises.ipynb", as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
)
LIMITS = ["--cell-timeout", "30", "--timeout", "300"]
TIMEOUT = 900


# ------------------------------------------------------------------------------- running commands


def instructor(root: Path, exchange: Path):
    """nbgrader's instructor commands, in this process, as formgrader runs them (``NbGraderAPI``)."""
    from nbgrader.apps import NbGraderAPI

    from autograder.grading import nbgrader_api

    config = nbgrader_api.config(root)
    config.Exchange.root = str(exchange)
    return NbGraderAPI(config=config)


def ok(result: dict) -> dict:
    assert result["success"], result.get("error", "") + result.get("log", "")
    return result


def course(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return classes.course(*args, cwd=cwd, timeout=TIMEOUT, check=True)


class Students:
    """Student identities: Unix users of their own when the test runs as root (tests/accounts.py), else one
    user with a home and a ``--student`` id per student (also as root when ``COURSE_TEST_ONE_USER`` is set).
    ``separate`` says which."""

    def __init__(self, base: Path, names: list[str]) -> None:
        self.base = base
        # COURSE_TEST_ONE_USER: to try the one-user way as root
        self.separate = can_create_users() and not os.environ.get("COURSE_TEST_ONE_USER")
        self.accounts = Accounts(base) if self.separate else None
        self.ids = {name: name for name in names}
        self.homes = {}
        for name in names:
            if self.accounts:
                self.ids[name] = self.accounts.add(name)
                self.homes[name] = self.accounts.homes[name]
            else:
                self.homes[name] = base / "home" / name
                self.homes[name].mkdir(parents=True)

    def close(self) -> None:
        if self.accounts:
            self.accounts.close()

    def command(self, name: str, args: list[str]) -> tuple[list[str], dict]:
        home = self.homes[name]
        python = [sys.executable, "-m", "nbgrader", *args, "--log-level=INFO"]
        python += [f"--Exchange.root={self.base / 'exchange'}", f"--CourseDirectory.course_id={COURSE_ID}"]
        env = {"JUPYTER_DATA_DIR": str(home / ".local/share/jupyter")}
        if not self.accounts:
            variables = {
                "HOME": str(home),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
            }
            return python + [f"--student={self.ids[name]}"], {**os.environ, **variables, **env}
        return self.accounts.command(name, python, env), None

    def run(self, jobs: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
        """Each student's command, at the same time, in their home."""
        running = {}
        for name, args in jobs.items():
            command, env = self.command(name, args)
            running[name] = subprocess.Popen(
                command,
                cwd=self.homes[name],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        done = {}
        for name, process in running.items():
            out, err = process.communicate(timeout=TIMEOUT)
            done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
            assert process.returncode == 0, f"{name}: {jobs[name]}\n{out}\n{err}"
        return done

    def give(self, name: str, path: Path) -> None:
        """A file the test wrote for a student, made theirs."""
        if self.accounts:
            self.accounts.give(name, path)


# ---------------------------------------------------------------------------------------- helpers


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def marks(path: Path) -> list[tuple]:
    """What formgrader reads of a graded notebook: each graded or locked cell's nbgrader metadata."""
    keys = ("grade_id", "grade", "solution", "locked", "points")
    cells = nbformat.read(path, as_version=4).cells
    return [
        (c.cell_type, *(c.metadata["nbgrader"].get(k) for k in keys))
        for c in cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    ]


# ------------------------------------------------------------------------------------ the cycle


@pytest.fixture(scope="module")
def cycle():
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="course-exchange-", dir="/tmp"))
    base.chmod(0o755)  # the students reach their homes and the exchange through it
    students = Students(base, ["alice", "bob"])
    try:
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)  # nbgrader's exchange: writable by everyone
        class_dir = copy_course(base / "course").root
        data = class_dir / "source" / ASSIGNMENT / "data"
        data.mkdir()
        (data / "points.csv").write_text("x,y\n1,2\n")  # a file beside the notebook, released with it
        teacher = instructor(class_dir, exchange)
        ok(teacher.generate_assignment(ASSIGNMENT))
        ok(teacher.release_assignment(ASSIGNMENT))
        students.run({name: ["fetch_assignment", ASSIGNMENT] for name in students.homes})
        folder = students.homes["alice"] / ASSIGNMENT
        release = nbformat.read(folder / "exercises.ipynb", as_version=4)
        nbformat.write(classes.answered(ASSIGNMENT, release=release), folder / "exercises.ipynb")
        (folder / "notes.txt").write_text("my notes\n")  # a file of the student's own
        (folder / "data" / "points.csv").write_text("x,y\nedited\n")  # the source's version wins
        for path in (folder / "exercises.ipynb", folder / "notes.txt", folder / "data" / "points.csv"):
            students.give("alice", path)
        students.run({name: ["submit", ASSIGNMENT] for name in students.homes})
        ok(teacher.collect(ASSIGNMENT))
        collected = base / "collected"  # the collected class, before grading, for stock nbgrader
        shutil.copytree(class_dir, collected, ignore=shutil.ignore_patterns("autograded", "feedback"))
        graded = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir)
        course("feedback", ASSIGNMENT, cwd=class_dir)
        ok(teacher.release_feedback(ASSIGNMENT))
        fetched = students.run({name: ["fetch_feedback", ASSIGNMENT] for name in students.homes})
        seconds = time.monotonic() - started
        print(f"\nexchange cycle: {seconds:.1f} s; separate Unix users: {bool(students.separate)}")
        yield {
            "base": base,
            "class": class_dir,
            "collected": collected,
            "students": students,
            "graded": graded,
            "fetched": fetched,
            "seconds": seconds,
        }
    finally:
        students.close()
        shutil.rmtree(base, ignore_errors=True)


def test_students_fetch_their_own_feedback(cycle):
    students, class_dir = cycle["students"], cycle["class"]
    if not students.separate:
        print("one Unix user for every student (not root): identities are --student ids and homes")
    ids = students.ids
    with classes.gradebook(class_dir) as gb:
        got = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert got == {ids["alice"]: FULL, ids["bob"]: 0.0}
    hidden = hidden_only_lines(ASSIGNMENT)
    assert hidden
    for name, score in (("alice", FULL), ("bob", 0.0)):
        home = students.homes[name]
        pages = sorted((home / ASSIGNMENT / "feedback").glob("*/*.html"))
        assert [p.name for p in pages] == ["exercises.html"], cycle["fetched"][name].stderr
        # the page is fetched into the folder named by the submission's own timestamp
        cached = list((home / ".local/share/jupyter/nbgrader_cache" / COURSE_ID).glob(f"*+{ASSIGNMENT}+*"))
        assert [pages[0].parent.name] == [c.name.split("+")[2] for c in cached]
        page = html.unescape(pages[0].read_text(encoding="utf-8"))
        assert f"{ids[name]}" in page and f"Score: {score:g} / {FULL:g}" in page
        assert not [line for line in hidden if line in page] and "HIDDEN TESTS" not in page
        if students.separate:
            assert pages[0].stat().st_uid == pwd.getpwnam(ids[name]).pw_uid
    # the feedback folder holds what release_feedback read, from the student's submission
    for name in ("alice", "bob"):
        submitted = class_dir / "submitted" / ids[name] / ASSIGNMENT
        feedback = class_dir / "feedback" / ids[name] / ASSIGNMENT
        for kept in ("timestamp.txt", "submission_secret.txt"):
            assert (feedback / kept).read_bytes() == (submitted / kept).read_bytes()


def test_same_files_as_stock_autograde_and_generate_feedback(cycle):
    """``autograded/`` and ``feedback/`` hold the files stock nbgrader leaves there, with the same
    timestamps, the source's files laid over the student's, and the same marks for formgrader."""
    collected, class_dir, ids = cycle["collected"], cycle["class"], cycle["students"].ids
    started = time.monotonic()
    api = instructor(collected, cycle["base"] / "exchange")
    for student in ids.values():
        ok(api.autograde(ASSIGNMENT, student))
    ok(api.generate_feedback(ASSIGNMENT))
    print(f"\nstock autograde and generate_feedback: {time.monotonic() - started:.1f} s")
    with classes.gradebook(collected) as gb:
        stock_scores = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert stock_scores == {ids["alice"]: FULL, ids["bob"]: 0.0}
    for student in ids.values():
        ours = class_dir / "autograded" / student / ASSIGNMENT
        stock = collected / "autograded" / student / ASSIGNMENT
        mine, theirs = files(ours), files(stock)
        assert sorted(mine) == sorted(theirs)
        assert {"timestamp.txt", "submission_secret.txt", "data/points.csv", "exercises.ipynb"} <= set(mine)
        for rel in mine:
            if not rel.endswith(".ipynb"):
                assert mine[rel] == theirs[rel], rel
            assert (ours / rel).stat().st_mode & 0o777 == (stock / rel).stat().st_mode & 0o777, rel
        assert mine["data/points.csv"] == b"x,y\n1,2\n"  # the source's version, not the student's
        assert marks(ours / "exercises.ipynb") == marks(stock / "exercises.ipynb")
        # the instructor's copy keeps the hidden tests, as stock autograde's does (formgrader shows them)
        assert HIDDEN_BEGIN in (ours / "exercises.ipynb").read_text(encoding="utf-8")
        ours_feedback = files(class_dir / "feedback" / student / ASSIGNMENT)
        stock_feedback = files(collected / "feedback" / student / ASSIGNMENT)
        assert sorted(ours_feedback) == sorted(stock_feedback)
        for rel in ours_feedback:
            if not rel.endswith(".html"):
                assert ours_feedback[rel] == stock_feedback[rel], rel
    alice = files(class_dir / "autograded" / ids["alice"] / ASSIGNMENT)
    assert alice["notes.txt"] == b"my notes\n"
