"""``course check``: a student's self-check runs the visible tests the grader's way and prints a table."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.build import build_release
from autograder.course import Course
from tests.classes import course
from tests.classes import exercise_titles as titles
from tests.conftest import ROOT

pytestmark = pytest.mark.grading

COURSE = Course(ROOT)


def check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return course("check", *args, cwd=cwd)


def test_blank_release_reads_not_started_under_each_exercise_title(tmp_path):
    """An exercise still as released is "not started" in both languages (not the stub's
    ``NotImplementedError: ``), and each row carries the exercise's title in both languages, with points."""
    target = tmp_path / "exercises.ipynb"
    shutil.copy(COURSE.release / "unit01" / "exercises.ipynb", target)
    done = check(str(target))
    assert done.returncode == 1, done.stderr
    nb = nbformat.read(target, as_version=4)
    ko, en = titles(nb, "ko"), titles(nb, "en")
    rows = re.findall(r"^✘ (.+?)\s+0/(\d+)$", done.stdout, re.M)
    assert [title for title, _ in rows] == [f"{ko[gid]} · {en[gid]}" for gid in ko], done.stdout
    points = [
        str(c.metadata["nbgrader"]["points"])
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") in ko
    ]
    assert [p for _, p in rows] == points
    assert "test_" not in done.stdout and "NotImplementedError" not in done.stdout, done.stdout
    assert done.stdout.count("아직 풀지 않았습니다") == len(ko) == done.stdout.count("not started")
    assert "0 / 16" in done.stdout
    assert "을(를)" not in done.stderr and "exercises.ipynb" in done.stderr, done.stderr


def test_answered_notebook_gets_every_point_in_its_own_language(tmp_path):
    released = build_release(COURSE, "unit01", tmp_path / "ko", "ko")
    nb = nbformat.read(released / "exercises.ipynb", as_version=4)
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(COURSE.source / "unit01" / "exercises.ipynb", as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "self_power_backward":
            cell.source = solutions[gid].replace(
                "return via_base, via_exponent, dL_dx", "return -via_base, -via_exponent, -dL_dx"
            )
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[gid]
    nbformat.write(nb, released / "exercises.ipynb")
    done = check(str(released / "exercises.ipynb"))
    assert done.returncode == 1
    assert "합계: 13 / 16점" in done.stdout
    title = titles(nb, "ko")["test_self_power_backward"]
    assert re.search(rf"^✘ {re.escape(title)}\s+0/3$", done.stdout, re.M), done.stdout
    assert "값이 다릅니다" in done.stdout and "not started" not in done.stdout
    assert "wrong value" not in done.stdout and "Total" not in done.stdout, "a Korean release: Korean only"
    english = check(str(released / "exercises.ipynb"), "--lang", "en")
    assert "Total: 13 / 16 points" in english.stdout and "합계" not in english.stdout


def test_mistakes_get_one_line_in_both_languages(tmp_path):
    missing = check(str(tmp_path / "nope.ipynb"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "찾지 못했습니다" in missing.stderr and "not found" in missing.stderr
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    corrupt = check(str(broken))
    assert corrupt.returncode == 2 and "Traceback" not in corrupt.stderr
    assert "cannot be read" in corrupt.stderr


def test_check_imports_torch_once_and_never_sympy(tmp_path):
    """``course check`` imports torch in its own process, then forks the worker from it (no second Python
    importing torch again), and the checker never pays for sympy (autograd's tensor ``grad_outputs`` path)."""
    target = tmp_path / "exercises.ipynb"
    nb = nbformat.read(COURSE.release / "unit01" / "exercises.ipynb", as_version=4)
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(COURSE.source / "unit01" / "exercises.ipynb", as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[cell.metadata["nbgrader"]["grade_id"]]
    nbformat.write(nb, target)
    probe = (
        "import sys, subprocess\n"
        "from pathlib import Path\n"
        "def refused(*args, **kwargs):\n"
        "    raise AssertionError(f'a new process was started: {args[0]}')\n"
        "subprocess.Popen = refused\n"
        "from autograder.grading.selfcheck import check\n"
        f"rows, _ = check(Path({str(target)!r}))\n"
        "assert rows and all(row.passed for row in rows), [(r.grade_id, r.messages) for r in rows]\n"
        "assert 'sympy' not in sys.modules, 'sympy was imported'\n"
        "print('ok', len(rows))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout + done.stderr[-3000:]
