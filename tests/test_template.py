"""The warm template (autograder/grading/template.py): one sandbox per job slot with torch imported once,
one forked worker per submission, and nothing that crosses from one submission to the next.

Each test grades two "submissions" in the same slot, one after the other, through the grader's own
``Session``: the first does what a hostile student would, the second looks for any trace of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading import sandbox
from autograder.grading.sandbox import Limits, Session, check_sandbox

pytestmark = pytest.mark.grading

SLOT = 7
LIMITS = Limits(cell_seconds=30.0)


@pytest.fixture(autouse=True)
def needs_the_sandbox(monkeypatch):
    problem = check_sandbox()
    if problem:
        pytest.fail(f"bubblewrap must run here for these tests: {problem}")
    monkeypatch.delenv(sandbox.WARM_TEMPLATES, raising=False)


def run(session: Session, code: str) -> str:
    reply = session.request("run", code=code)
    assert "error" not in reply, reply["error"]
    return "".join(o.get("text", "") for o in reply["outputs"] if o.get("output_type") == "stream")


def submission(tmp_path, name: str) -> os.PathLike:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "data.txt").write_text(name)
    return folder


def slot_processes() -> list[str]:
    uid = str(61000 + SLOT) if os.geteuid() == 0 else str(os.geteuid())
    listing = subprocess.run(["ps", "-o", "pid=,args=", "-u", uid], capture_output=True, text=True).stdout
    return [line.strip() for line in listing.splitlines() if line.strip()]


HOSTILE = r"""
import builtins, os, subprocess, sys
import torch
import autograder.checker as checker

for folder in ("/tmp", "/dev/shm", "."):
    with open(os.path.join(folder, "left_behind"), "w") as f:
        f.write("secret")
os.environ["LEFT_BEHIND"] = "1"
os.putenv("LEFT_BEHIND_TOO", "1")
torch.sum = lambda *a, **k: 42
checker.assert_gradient = lambda *a, **k: None
builtins.left_behind = True
sys.path.insert(0, "/tmp")
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:  # a daemon that outlives the cell
    os.setsid()
    subprocess.Popen(["sh", "-c", "sleep 2; echo late > /tmp/late_file; sleep 600"])
    os._exit(0)
try:
    open("/submission/data.txt", "w").write("changed")
except OSError as error:
    print("submission read-only:", type(error).__name__)
print("pid", os.getpid(), "proc", sorted(os.listdir("/proc")))
"""

LOOK = r"""
import builtins, os, sys
import torch
import autograder.checker as checker

places = ("/tmp/left_behind", "/dev/shm/left_behind", "left_behind", "/tmp/late_file")
print("files", [p for p in places if os.path.exists(p)])
print("env", [k for k in os.environ if k.startswith("LEFT_BEHIND")])
print("torch.sum", torch.sum(torch.ones(3)).item())
print("checker", checker.assert_gradient.__module__)
print("builtins", hasattr(builtins, "left_behind"))
print("path", "/tmp" in sys.path)
print("data", open("data.txt").read(), sorted(os.listdir("/tmp")))
"""


def test_nothing_crosses_from_one_submission_to_the_next(tmp_path):
    first = Session(submission(tmp_path, "first"), limits=LIMITS, sandbox=True, slot=SLOT)
    template = first._template
    assert template is not None, "no warm template started: the sandbox fell back to a cold start"
    template_pid = template.process.pid
    printed = run(first, HOSTILE)
    assert "submission read-only: OSError" in printed or "submission read-only: PermissionError" in printed
    assert "pid 1 proc []" in printed  # PID 1 of its own namespace, and nothing to see in /proc
    time.sleep(0.5)
    assert any("sleep 600" in p for p in slot_processes())  # the student's processes did start
    first.close()
    time.sleep(0.5)
    left = [p for p in slot_processes() if "sleep" in p or " sh " in f" {p} "]
    assert left == [], left  # killed with the first submission's PID namespace

    second = Session(submission(tmp_path, "second"), limits=LIMITS, sandbox=True, slot=SLOT)
    assert second._template is template and template.process.pid == template_pid  # the same warm template
    time.sleep(2.5)  # past the moment the daemon would have written its late file
    looked = run(second, LOOK)
    second.close()
    assert "files []" in looked
    assert "env []" in looked
    assert "torch.sum 3.0" in looked
    assert "checker autograder.checker" in looked
    assert "builtins False" in looked
    assert "path False" in looked
    # /tmp is the second submission's own: its work folder, and the sandbox's read-only binds of a Python
    # or this package when they are installed under /tmp (a fresh clone there, a virtual environment)
    bound = sorted(
        {root.relative_to("/tmp").parts[0] for root in sandbox._readonly_roots() if under_tmp(root)}
    )
    assert f"data second {sorted(['work', *bound])}" in looked


def under_tmp(path) -> bool:
    return path.is_relative_to("/tmp") and path != Path("/tmp")


PACKAGE_UNDER_TMP = r"""
import sys
from autograder.grading.sandbox import Limits, Session
session = Session(sys.argv[1], limits=Limits(cell_seconds=30.0), sandbox=True, slot=int(sys.argv[2]))
assert session._template is not None, "no warm template"
reply = session.request("run", code=sys.argv[3])
session.close()
print(reply.get("error") or "".join(o.get("text", "") for o in reply["outputs"]))
"""

LOOK_AT_THE_PACKAGE = r"""
import os
import autograder.checker as c
print("read-only mount:", bool(os.statvfs(c.__file__).f_flag & os.ST_RDONLY))
print(c.__file__, os.listdir("/tmp"))
"""


def test_a_package_installed_under_tmp_stays_readable_in_each_forked_worker(tmp_path):
    """Each forked worker gets a new, empty /tmp. A Python or this package installed under /tmp (a clone
    in /tmp, a virtual environment there) is bound read-only on the sandbox's /tmp, and must still be
    there, read-only, in the worker's."""
    import shutil

    from autograder import __file__ as package_init

    copy = tmp_path / "site"
    shutil.copytree(
        Path(package_init).parent, copy / "autograder", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "submission").mkdir()
    env = {k: v for k, v in os.environ.items() if k != sandbox.WARM_TEMPLATES} | {"PYTHONPATH": str(copy)}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PACKAGE_UNDER_TMP,
            str(tmp_path / "submission"),
            str(SLOT + 1),
            LOOK_AT_THE_PACKAGE,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{copy}/autograder/checker.py" in done.stdout, done.stdout
    assert "'work'" in done.stdout, done.stdout
    assert "read-only mount: True" in done.stdout, done.stdout


def test_a_student_who_kills_everything_they_can_see_does_not_reach_the_template(tmp_path):
    first = Session(submission(tmp_path, "first"), limits=LIMITS, sandbox=True, slot=SLOT)
    template = first._template
    reply = first.request(
        "run", code="import os, signal\nos.kill(-1, signal.SIGKILL)\nos.kill(1, signal.SIGKILL)"
    )
    assert reply.get("error") or reply.get("outputs") is not None
    first.close()
    assert template.alive()
    second = Session(submission(tmp_path, "second"), limits=LIMITS, sandbox=True, slot=SLOT)
    assert second._template is template
    assert "data second" in run(second, "print('data', open('data.txt').read())")
    second.close()


def test_without_templates_each_submission_gets_a_sandbox_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv(sandbox.WARM_TEMPLATES, "0")
    session = Session(submission(tmp_path, "cold"), limits=LIMITS, sandbox=True, slot=SLOT)
    assert session._template is None and session.process is not None
    assert "data cold" in run(session, "print('data', open('data.txt').read())")
    session.close()
