"""The README's hub setup, followed with Unix accounts: the students' environment gets the package as a wheel,
the course folder is the instructor's alone, and a student can use the checker but read no answer.

The machine plays a hub: an instructor and two students, each a Unix user with a home of their own (the
instructor's readable by all, as many systems make homes, the students' 0700 as the README asks), and a
Python environment every user runs (a virtual environment over this Python's packages, standing for the
hub's). The instructor's course folder is this repository with a class in it. The README's two hub blocks
run as written, as the instructor and as root; then the instructor releases unit 1 through nbgrader's
exchange, one student fetches it, checks her answers with the checker and ``course check`` and submits, and
the instructor collects. The other student's Python then tries every file of ``source/``, the gradebook and
the first student's submission, in the course folder, the exchange and her home: every one is refused. The
same probe before the course folder was closed reads ``source/``: the test can fail.

Needs root to create the accounts (CI runs as root); elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests import classes
from tests.accounts import Accounts, can_create_users
from tests.classes import COURSE
from tests.conftest import ROOT, copy_course
from tests.nbcells import hidden_only_lines

pytestmark = pytest.mark.nbgrader

ASSIGNMENT = "unit01"
COURSE_ID = "autograd-course"
README = (ROOT / "README.md").read_text(encoding="utf-8")
# lines any code has (a wrapper's call, torch's no_grad block; the package has them too): no answer
GENERIC = {"return function(*args)", "with torch.no_grad():"}

PROBE = r"""
import json, os, sys
results = {}
for path in json.load(open(sys.argv[1])):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
        results[path] = "read"
    except OSError as error:
        results[path] = type(error).__name__
print(json.dumps(results))
"""

CHECKER = r"""
import json, pathlib, torch, autograder
from autograder import assert_gradient
from autograder.checker import CheckFailed
x = torch.tensor([0.5, -1.2, 2.0], dtype=torch.float64)
assert_gradient(2 * x, lambda x: (x ** 2).sum(), x)  # right: passes
try:
    assert_gradient(-2 * x, lambda x: (x ** 2).sum(), x)
    diagnosis = ""
except CheckFailed as failure:
    diagnosis = str(failure)
print(json.dumps({"file": autograder.__file__, "diagnosis": diagnosis,
                  "beside": (pathlib.Path(autograder.__file__).parents[1] / "source").exists()}))
"""


def solution_lines(assignment: str) -> set[str]:
    """The lines of an assignment's solutions that its student version does not have."""
    released = "\n".join(c.source for c in classes.release_nb(assignment).cells)
    lines = set()
    for cell in classes.source_nb(assignment).cells:
        inside = False
        for line in cell.source.splitlines():
            inside = (inside or "BEGIN SOLUTION" in line) and "END SOLUTION" not in line
            if inside and len(line.strip()) > 20 and line.strip() not in released:
                lines.add(line.strip())
    return lines


def readme_block(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```(?:bash|sh)\n(.+?)\n```", README, re.S)
    assert match, f"README.md has no block marked <!-- {marker} -->"
    return match.group(1)


def ok(done: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{what}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def hub(class_cache):
    if not can_create_users():
        pytest.skip("needs root (useradd, setpriv, unshare) to create the hub's accounts; CI runs as root")
    base = Path(tempfile.mkdtemp(prefix="course-hub-", dir="/tmp"))
    base.chmod(0o755)
    accounts = Accounts(base)
    try:
        yield _play(base, accounts, class_cache)
    finally:
        accounts.close()
        shutil.rmtree(base, ignore_errors=True)


def _play(base: Path, accounts: Accounts, class_cache: Path) -> dict:
    teacher, alice, mallory = (accounts.add(name) for name in ("teacher", "alice", "mallory"))
    accounts.homes["teacher"].chmod(0o755)  # a home everyone may enter: the course folder must close itself
    exchange = base / "exchange"
    # the instructor's course folder: a clone of the repository, with the class's gradebook
    course = copy_course(accounts.homes["teacher"] / "course").root
    generated = classes.new_class(base / "generated", [ASSIGNMENT], class_cache)
    shutil.copy(generated / "gradebook.db", course / "gradebook.db")
    accounts.give("teacher", course)
    # the environment every user's server runs, before the README's steps (this Python's packages under it)
    env = base / "env"
    ok(
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)],
            capture_output=True,
            text=True,
        ),
        "the hub's environment",
    )
    hub_python = env / "bin" / "python"
    bin_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    offline = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # the test talks to no index
    variables = {"HUB_PYTHON": str(hub_python), "COURSE": str(course), "EXCHANGE": str(exchange)}
    secrets = sorted(str(p) for p in (course / "source").rglob("*") if p.is_file())
    targets = base / "targets.json"
    targets.write_text(json.dumps(secrets[:3]))
    before = json.loads(
        ok(
            accounts.run("mallory", [sys.executable, "-c", PROBE, str(targets)], env={"PATH": bin_path}),
            "the probe before",
        ).stdout
    )

    # the README's hub steps, as written: the instructor's block in the course folder, then root's
    ok(
        accounts.run(
            "teacher",
            ["bash", "-ec", readme_block("hub-instructor")],
            cwd=course,
            env={"PATH": bin_path, **offline},
        ),
        "the README's instructor block",
    )
    ok(
        subprocess.run(
            ["bash", "-ec", readme_block("hub-root")],
            cwd=base,
            capture_output=True,
            text=True,
            env={"PATH": bin_path, "HOME": str(base), **offline, **variables},
        ),
        "the README's root block",
    )
    wheels = sorted((course / "dist").glob("*.whl"))

    def nbgrader(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        command = [
            str(hub_python),
            "-m",
            "nbgrader",
            *args,
            f"--Exchange.root={exchange}",
            f"--CourseDirectory.course_id={COURSE_ID}",
            "--log-level=INFO",
        ]
        return ok(
            accounts.run(name, command, cwd=cwd, env={"PATH": f"{env / 'bin'}:{bin_path}"}), " ".join(args)
        )

    nbgrader("teacher", "release_assignment", ASSIGNMENT, cwd=course)
    nbgrader("alice", "fetch_assignment", ASSIGNMENT)
    fetched = accounts.homes["alice"] / ASSIGNMENT / "exercises.ipynb"
    nbformat.write(classes.answered(ASSIGNMENT, release=nbformat.read(fetched, as_version=4)), fetched)
    accounts.give("alice", fetched)
    student_env = {"PATH": f"{env / 'bin'}:{bin_path}"}
    checker = ok(accounts.run("alice", [str(hub_python), "-c", CHECKER], env=student_env), "the checker")
    checked = accounts.run(
        "alice", [str(env / "bin" / "course"), "check", f"{ASSIGNMENT}/exercises.ipynb"], env=student_env
    )
    nbgrader("alice", "submit", ASSIGNMENT)
    nbgrader("teacher", "collect", ASSIGNMENT, cwd=course)

    # what the other student tries to read
    submitted = sorted(str(p) for p in (course / "submitted").rglob("*") if p.is_file())
    inbound = exchange / COURSE_ID / "inbound"
    tried = [
        *secrets,
        str(course / "source"),
        str(course / "gradebook.db"),
        str(course),
        *submitted,
        str(inbound),
        str(fetched),
        str(accounts.homes["alice"]),
    ]
    targets.write_text(json.dumps(tried))
    after = json.loads(
        ok(
            accounts.run("mallory", [str(hub_python), "-c", PROBE, str(targets)], env=student_env),
            "the probe after",
        ).stdout
    )
    own = json.loads(
        ok(
            accounts.run("teacher", [str(hub_python), "-c", PROBE, str(targets)], env=student_env),
            "the instructor's probe",
        ).stdout
    )
    return {
        "course": course,
        "wheels": wheels,
        "env": env,
        "before": before,
        "after": after,
        "own": own,
        "checker": json.loads(checker.stdout.splitlines()[-1]),
        "checked": checked,
        "secrets": secrets,
        "submitted": submitted,
        "inbound": inbound,
        "fetched": fetched,
        "users": (teacher, alice, mallory),
    }


def test_the_students_environment_has_the_wheel_and_no_answers(hub):
    assert [w.name for w in hub["wheels"]] == ["autograd_course-0.1.0-py3-none-any.whl"]
    with zipfile.ZipFile(hub["wheels"][0]) as wheel:
        names = wheel.namelist()
        files = {n: wheel.read(n).decode("utf-8", "replace") for n in names}
        text = "\n".join(files.values())
    assert all(n.startswith(("autograder/", "autograd_course-0.1.0.dist-info/")) for n in names), names
    assert not [n for n in names if n.endswith(".ipynb")]
    # every line of a solution or of a hidden test that the student versions do not show
    answers = {
        line
        for a in COURSE.assignments()
        for line in solution_lines(a) | hidden_only_lines(a)
        if len(line) > 20
    }
    assert len(answers) > 100
    found = {
        line: [n for n, body in files.items() if line in body] for line in answers - GENERIC if line in text
    }
    assert not found, found
    installed = Path(hub["checker"]["file"])
    assert installed.is_relative_to(hub["env"]) and "site-packages" in installed.parts, installed
    assert not hub["checker"]["beside"], "no source/ beside the installed package"


def test_the_student_runs_the_checker_and_course_check(hub):
    assert "부호가 반대" in hub["checker"]["diagnosis"] and "sign is flipped" in hub["checker"]["diagnosis"]
    checked = hub["checked"]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    points = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in classes.source_nb(ASSIGNMENT).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    assert f"{points:g} / {points:g}" in checked.stdout, checked.stdout


def test_the_student_reads_no_answer_no_gradebook_and_no_other_submission(hub):
    after = hub["after"]
    read = [path for path, outcome in after.items() if outcome == "read"]
    assert not read, read
    assert all(outcome == "PermissionError" for outcome in after.values()), after
    assert len(hub["secrets"]) >= 1 and len(hub["submitted"]) >= 1
    assert str(hub["inbound"]) in after and str(hub["fetched"]) in after


def test_the_instructor_reads_it_all_and_the_test_can_fail(hub):
    own = hub["own"]
    assert all(own[path] == "read" for path in [*hub["secrets"], *hub["submitted"]]), own
    # before the README's chmod, in a home everyone may enter, the other student read the sources
    assert hub["before"] and all(outcome == "read" for outcome in hub["before"].values()), hub["before"]
