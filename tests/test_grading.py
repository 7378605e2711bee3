"""``course grade`` on a class with attacks and broken submissions: each attack gains nothing, every
other student is graded, nothing is lost; then feedback without hidden tests, and CSV export.

Everything is real: nbgrader's gradebook and preprocessors, bubblewrap, the worker processes.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from tests.classes import (
    AUTOGRAD_STAGED_SIGMOID,
    answered,
    course,
    gradebook,
    new_class,
    solutions,
    submit,
    totals,
)
from tests.nbcells import hidden_only_lines

pytestmark = pytest.mark.grading

ASSIGNMENT = "unit01"
FULL = 16.0
LIMITS = ["--cell-timeout", "8", "--timeout", "90"]


# ------------------------------------------------------------------------------------------ helpers


def student(answers: str = "all", change: dict[str, str] | None = None, before: dict[str, str] | None = None):
    return answered(ASSIGNMENT, answers=answers, change=change, before=before)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def scores(class_dir: Path) -> dict[str, float]:
    return totals(class_dir, ASSIGNMENT)


def result(class_dir: Path, name: str) -> dict:
    return json.loads((class_dir / "course_results" / ASSIGNMENT / f"{name}.json").read_text())


def outputs_text(class_dir: Path, name: str) -> str:
    nb = nbformat.read(class_dir / "autograded" / name / ASSIGNMENT / "exercises.ipynb", as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(
                out.get("text", "")
                + out.get("ename", "")
                + out.get("evalue", "")
                + str(out.get("data", {}).get("text/plain", ""))
            )
    return "\n".join(parts)


# ------------------------------------------------------------------------------- the attacked class

CLASS_SIGNS = {}


def attacks(class_dir: Path, port: int) -> dict[str, tuple[object, float]]:
    """Each submission and the score it must get."""
    src = class_dir / "source" / ASSIGNMENT / "exercises.ipynb"
    other = class_dir / "submitted" / "honest" / ASSIGNMENT / "exercises.ipynb"
    db = class_dir / "gradebook.db"
    steal = f"""
import json, os
for path in [{str(src)!r}, {str(other)!r}, {str(db)!r}, "/root/.bash_history", "/etc/shadow"]:
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
        print("READ-OK", path)
        if path.endswith(".ipynb"):
            for cell in json.loads(text)["cells"]:
                if cell.get("metadata", {{}}).get("nbgrader", {{}}).get("solution"):
                    exec("".join(cell["source"]))
    except Exception as error:
        print("READ-BLOCKED", path, type(error).__name__)
for path in [{str(db)!r}, {str(class_dir / "pwned.txt")!r}]:
    try:
        with open(path, "a") as handle:
            handle.write("pwned")
        print("WRITE-OK", path)
    except Exception as error:
        print("WRITE-BLOCKED", path, type(error).__name__)
"""
    network = f"""
import socket, urllib.request
for target in [("127.0.0.1", {port}), ("pypi.org", 443)]:
    try:
        socket.create_connection(target, timeout=3).close()
        print("NET-OK", target)
    except Exception as error:
        print("NET-BLOCKED", target, type(error).__name__)
"""
    transformer = """
ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: [] if any("assert" in l for l in lines) else lines)
"""
    always_equal = """
class Anything(float):
    def __new__(cls): return float.__new__(cls, 0.0)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __iter__(self): return iter([Anything() for _ in range(5)])
    def __len__(self): return 5
    def __getitem__(self, i): return Anything()
    __hash__ = float.__hash__
def everything(*args, **kwargs):
    return tuple(Anything() for _ in range(5))
for name in ["mul_gate_backward", "max_gate_backward", "staged_sigmoid_backward",
             "self_power_backward", "nested_max_backward", "relu_max_backward", "diamond_backward"]:
    globals()[name] = everything
"""
    patches = """
import builtins, numpy, torch, autograder, autograder.checker as checker
ok = lambda *a, **k: True
torch.allclose = ok; numpy.allclose = ok; torch.testing.assert_close = lambda *a, **k: None
checker.compare = lambda *a, **k: checker.Verdict("x", True, "passed")
autograder.assert_gradient = autograder.assert_value = lambda *a, **k: None
checker.assert_gradient = checker.assert_value = lambda *a, **k: None
builtins.AssertionError = type("Nothing", (Exception,), {})
"""
    fork_bomb = """
import os, time
children = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children += 1
print("FORKED", children)
"""
    # every answer kills its process when called: restarts are bounded, and the run still ends
    dying = {
        gid: f"import os\ndef {gid}(*args, **kwargs):\n    os._exit(1)"
        for gid in [
            "mul_gate_backward",
            "max_gate_backward",
            "staged_sigmoid_backward",
            "self_power_backward",
            "nested_max_backward",
            "relu_max_backward",
            "diamond_backward",
        ]
    }
    autograd_neuron = AUTOGRAD_STAGED_SIGMOID
    kernel_tamper = (
        "import autograder, autograder.rules as rules\n"
        "rules.enforce = lambda *a, **k: None\n"
        "autograder.assert_by_hand = rules.assert_by_hand = assert_by_hand = lambda *a, **k: None\n"
    )
    return {
        "honest": (student(), FULL),
        # right numbers from autograd in a by-hand exercise: 0 for it, even with the kernel's check disabled
        "autograd_by_hand": (student(change={"staged_sigmoid_backward": autograd_neuron}), FULL - 4),
        "autograd_by_hand_tampered": (
            student(
                change={"staged_sigmoid_backward": autograd_neuron},
                before={"test_staged_sigmoid_backward": kernel_tamper},
            ),
            FULL - 4,
        ),
        "blank": (student("none"), 0.0),
        "wrong_sign": (
            student(
                change={
                    "staged_sigmoid_backward": _solution("staged_sigmoid_backward").replace(
                        "return f, df_dd, df_de, df_dn, df_dz, df_dw,",
                        "return f, df_dd, df_de, df_dn, df_dz, -df_dw,",
                    )
                }
            ),
            FULL - 4,  # one part: f and the gradients at the nodes being right earn nothing alone
        ),
        "steals_files": (student("none", before={"mul_gate_backward": steal}), 0.0),
        "network": (student("none", before={"mul_gate_backward": network}), 0.0),
        "input_transformer": (student("none", before={"mul_gate_backward": transformer}), 0.0),
        "always_equal": (student("none", before={"test_diamond_backward": always_equal}), 0.0),
        "patches_checker": (student("none", before={"mul_gate_backward": patches}), 0.0),
        # the process is restarted after the crash or the timeout: only that exercise is lost
        "os_exit": (student(change={"mul_gate_backward": "import os\nos._exit(3)"}), FULL - 1),
        "endless_loop": (student(change={"mul_gate_backward": "while True:\n    pass"}), FULL - 1),
        "loops_when_called": (
            student(
                change={
                    "self_power_backward": (
                        "def self_power_backward(x, upstream):\n    while True:\n        pass"
                    )
                }
            ),
            FULL - 3,
        ),
        "dies_every_time": (student(change=dying), 0.0),
        "memory_bomb": (student(before={"mul_gate_backward": "hog = bytearray(16 * 1024 ** 3)"}), FULL),
        "fork_bomb": (student(before={"mul_gate_backward": fork_bomb}), FULL),
        "huge_output": (student(before={"mul_gate_backward": "print('x' * 50_000_000)"}), FULL),
        "warns_on_stderr": (
            student(
                before={
                    "mul_gate_backward": "import sys, warnings\nwarnings.warn('a library warning')\n"
                    "print('to stderr', file=sys.stderr)"
                },
                change={
                    "mul_gate_backward": _solution("mul_gate_backward").replace(
                        "    ### BEGIN SOLUTION",
                        "    import warnings; warnings.warn('deprecated')\n    ### BEGIN SOLUTION",
                    )
                },
            ),
            FULL,
        ),
    }


def _solution(gid: str) -> str:
    return solutions(ASSIGNMENT)[gid]


def broken(class_dir: Path) -> dict[str, tuple[dict, float, str | None]]:
    """Broken submissions: files, the score, and a word the recorded reason must contain."""
    full = student()
    duplicated = student()
    dup_index = next(i for i, c in enumerate(duplicated.cells) if grade_id(c) == "test_mul_gate_backward")
    duplicated.cells.insert(
        dup_index, nbformat.from_dict(json.loads(json.dumps(duplicated.cells[dup_index])))
    )
    deleted = student()
    deleted.cells = [
        c for c in deleted.cells if grade_id(c) not in ("test_staged_sigmoid_backward", "self_power_backward")
    ]
    relabelled = student("none")
    fake = nbformat.v4.new_code_cell("pass")
    fake.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 100,
        "grade_id": "free_points",
        "schema_version": 3,
    }
    relabelled.cells.append(fake)
    no_cells = nbformat.v4.new_notebook()
    return {
        "corrupt": ({"exercises.ipynb": "{"}, 0.0, "JSON"),
        "empty_file": ({"exercises.ipynb": b""}, 0.0, "exercises.ipynb"),
        "no_cells": ({"exercises.ipynb": no_cells}, 0.0, "no cells"),
        "missing": ({"notes.txt": "I forgot"}, 0.0, "exercises.ipynb"),
        "renamed": ({"exercises (1).ipynb": full}, FULL, "exercises (1).ipynb"),
        "duplicated_cells": ({"exercises.ipynb": duplicated}, FULL, "test_mul_gate_backward"),
        "deleted_cells": ({"exercises.ipynb": deleted}, FULL - 3, "test_staged_sigmoid_backward"),
        "fake_grade_cell": ({"exercises.ipynb": relabelled}, 0.0, None),
    }


@pytest.fixture(scope="module")
def listener():
    """A server on 127.0.0.1 that counts connections: the sandbox must never reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(1)
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, listener, class_cache):
    class_dir = new_class(tmp_path_factory.mktemp("attacked"), [ASSIGNMENT], class_cache)
    port, _ = listener
    expected = {}
    for name, (nb, score) in attacks(class_dir, port).items():
        submit(class_dir, name, ASSIGNMENT, {"exercises.ipynb": nb})
        expected[name] = score
    reasons = {}
    for name, (files, score, word) in broken(class_dir).items():
        submit(class_dir, name, ASSIGNMENT, files)
        expected[name] = score
        reasons[name] = word
    before = time.monotonic()
    done = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir)
    seconds = time.monotonic() - before
    return class_dir, expected, reasons, done, seconds


# ------------------------------------------------------------------------------------------- tests


def test_the_run_completes_and_grades_everyone(graded_class):
    class_dir, expected, _, done, _ = graded_class
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(scores(class_dir)) == set(expected)


ATTACKS = [
    "honest",
    "autograd_by_hand",
    "autograd_by_hand_tampered",
    "blank",
    "wrong_sign",
    "steals_files",
    "network",
    "input_transformer",
    "always_equal",
    "patches_checker",
    "os_exit",
    "endless_loop",
    "loops_when_called",
    "dies_every_time",
    "memory_bomb",
    "fork_bomb",
    "huge_output",
    "warns_on_stderr",
]


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_gains_nothing(graded_class, name):
    class_dir, expected, _, _, _ = graded_class
    assert scores(class_dir)[name] == expected[name], result(class_dir, name)


BROKEN = [
    "corrupt",
    "empty_file",
    "no_cells",
    "missing",
    "renamed",
    "duplicated_cells",
    "deleted_cells",
    "fake_grade_cell",
]


def test_every_scenario_has_its_own_check(graded_class):
    """A submission added to attacks() or broken() must also be listed above, so its score is checked."""
    _, expected, reasons, _, _ = graded_class
    assert sorted(ATTACKS) == sorted(set(expected) - set(reasons)) and sorted(BROKEN) == sorted(reasons)


@pytest.mark.parametrize("name", BROKEN)
def test_broken_submissions_get_their_score_and_a_reason(graded_class, name):
    class_dir, expected, reasons, _, _ = graded_class
    assert scores(class_dir)[name] == expected[name], result(class_dir, name)
    record = json.dumps(result(class_dir, name), ensure_ascii=False)
    if reasons[name]:
        assert reasons[name] in record
        assert re.search("[가-힣]", record), "the reason must be given in Korean as well"


def test_files_outside_the_sandbox_are_neither_read_nor_written(graded_class):
    class_dir, *_ = graded_class
    text = outputs_text(class_dir, "steals_files")
    assert text.count("READ-BLOCKED") == 5 and "READ-OK" not in text, text
    assert text.count("WRITE-BLOCKED") == 2 and "WRITE-OK" not in text, text
    assert not (class_dir / "pwned.txt").exists()


def test_no_network_from_the_sandbox(graded_class, listener):
    class_dir, *_ = graded_class
    _, hits = listener
    text = outputs_text(class_dir, "network")
    assert text.count("NET-BLOCKED") == 2 and "NET-OK" not in text, text
    assert hits == []


def test_limits_hold_and_are_explained(graded_class):
    class_dir, *_ = graded_class
    forked = int(re.search(r"FORKED (\d+)", outputs_text(class_dir, "fork_bomb")).group(1))
    assert forked < 100
    assert "MemoryError" in outputs_text(class_dir, "memory_bomb")
    assert (
        os.path.getsize(class_dir / "autograded" / "huge_output" / ASSIGNMENT / "exercises.ipynb") < 2_000_000
    )
    loop = json.dumps(result(class_dir, "endless_loop"), ensure_ascii=False)
    assert "time limit" in loop and "제한 시간" in loop
    died = json.dumps(result(class_dir, "os_exit"), ensure_ascii=False)
    assert "process running the code ended" in died


def test_autograd_in_a_by_hand_answer_is_named(graded_class):
    class_dir, *_ = graded_class
    for name in ("autograd_by_hand", "autograd_by_hand_tampered"):
        cells = {c["grade_id"]: c for c in result(class_dir, name)["notebooks"]["exercises"]["cells"]}
        message = "\n".join(cells["test_staged_sigmoid_backward"]["messages"])
        assert ".backward" in message and "autograd" in message and "자동 미분" in message, message


def test_wrong_answer_feedback_names_the_output(graded_class):
    class_dir, *_ = graded_class
    cells = {c["grade_id"]: c for c in result(class_dir, "wrong_sign")["notebooks"]["exercises"]["cells"]}
    failed = "\n".join(cells["test_staged_sigmoid_backward"]["messages"])
    assert "∂f/∂w" in failed or "df_dw" in failed, failed
    assert "값이 다릅니다" in failed and "wrong value" in failed


def test_feedback_in_both_languages_never_shows_hidden_tests(graded_class):
    class_dir, expected, *_ = graded_class
    done = course("feedback", ASSIGNMENT, cwd=class_dir)
    assert done.returncode == 0, done.stderr
    hidden = hidden_only_lines(ASSIGNMENT)
    assert hidden, "the sources have hidden tests"
    import html

    for name in expected:
        page = html.unescape((class_dir / "feedback" / name / ASSIGNMENT / "exercises.html").read_text())
        leaked = [line for line in hidden if line in page]
        assert not leaked, (name, leaked[:3])
        assert "BEGIN HIDDEN" not in page
    page = (class_dir / "feedback" / "wrong_sign" / ASSIGNMENT / "exercises.html").read_text()
    assert "12 / 16" in page and "wrong value" in page and "값이 다릅니다" in page


def test_export_carries_every_grade(graded_class):
    class_dir, *_ = graded_class
    done = course("export", "--to", "grades.csv", cwd=class_dir)
    assert done.returncode == 0, done.stderr
    with open(class_dir / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert rows == scores(class_dir)


# --------------------------------------------------------------------------- nothing is ever lost


@pytest.fixture()
def small_class(tmp_path, class_cache):
    class_dir = new_class(tmp_path / "class", [ASSIGNMENT], class_cache)
    expected = {}
    for i in range(4):
        submit(class_dir, f"right{i}", ASSIGNMENT, {"exercises.ipynb": student()})
        expected[f"right{i}"] = FULL
    submit(
        class_dir,
        "wrong",
        ASSIGNMENT,
        {
            "exercises.ipynb": student(
                change={
                    "self_power_backward": _solution("self_power_backward").replace(
                        "return via_base, via_exponent, dL_dx", "return -via_base, -via_exponent, -dL_dx"
                    )
                }
            )
        },
    )
    expected["wrong"] = FULL - 3
    return class_dir, expected


def test_killed_mid_run_then_rerun_leaves_a_consistent_gradebook(small_class):
    class_dir, expected = small_class
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, "--jobs", "1", *LIMITS],
        cwd=class_dir,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = class_dir / "course_results" / ASSIGNMENT
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= len(list(results.glob("*.json"))) < len(expected), "the kill came too late to test anything"
    done = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert scores(class_dir) == expected
    for name, score in expected.items():
        assert result(class_dir, name)["score"] == score
    # a third run changes nothing and grades nothing again; --force regrades to the same scores
    again = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir)
    assert again.returncode == 0 and scores(class_dir) == expected
    forced = course("grade", ASSIGNMENT, "--force", *LIMITS, cwd=class_dir)
    assert forced.returncode == 0 and scores(class_dir) == expected


def test_manual_grades_are_never_overwritten(small_class):
    class_dir, expected = small_class
    assert course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir).returncode == 0
    with gradebook(class_dir) as gb:
        grade = gb.find_grade("test_self_power_backward", "exercises", ASSIGNMENT, "wrong")
        grade.manual_score = 1.5
        gb.db.commit()
    # the student with the manual grade is regraded; the rest of the class is not needed for that
    done = course("grade", ASSIGNMENT, "--force", "--student", "wrong", *LIMITS, cwd=class_dir)
    assert done.returncode == 0, done.stderr
    with gradebook(class_dir) as gb:
        grade = gb.find_grade("test_self_power_backward", "exercises", ASSIGNMENT, "wrong")
        assert grade.manual_score == 1.5 and grade.auto_score == 0
    assert scores(class_dir)["wrong"] == FULL - 3 + 1.5


def test_refuses_without_a_sandbox_unless_told(small_class):
    class_dir, expected = small_class
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no bwrap on this PATH
    refused = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir, env=env)
    assert refused.returncode == 2
    assert "bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr and "격리" in refused.stderr
    assert not (class_dir / "course_results").exists()
    only = ["--student", "right0", "--student", "wrong"]  # two are enough to see it grade
    allowed = course("grade", ASSIGNMENT, "--no-sandbox", *only, *LIMITS, cwd=class_dir, env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert scores(class_dir) == {name: expected[name] for name in ("right0", "wrong")}


def test_clear_errors_for_a_wrong_assignment_or_no_submissions(tmp_path, class_cache):
    class_dir = new_class(tmp_path / "class", [ASSIGNMENT], class_cache)
    nothing = course("grade", ASSIGNMENT, cwd=class_dir)
    assert nothing.returncode == 2 and "submitted" in nothing.stderr and "제출물" in nothing.stderr
    unknown = course("grade", "unit99", cwd=class_dir)
    assert unknown.returncode == 2 and "unit99" in unknown.stderr and "Traceback" not in unknown.stderr
    # a course folder (config and sources) where nothing was generated yet: refused, and no empty
    # gradebook is left there
    bare = tmp_path / "bare"
    shutil.copytree(class_dir / "source", bare / "source")
    shutil.copy(class_dir / "nbgrader_config.py", bare)
    ungenerated = course("grade", ASSIGNMENT, cwd=bare)
    assert ungenerated.returncode == 2 and "course build" in ungenerated.stderr
    assert not (bare / "gradebook.db").exists()
    # outside any course: refused, never graded against the course repository the package sits in
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = course("grade", ASSIGNMENT, cwd=elsewhere)
    assert lost.returncode == 2 and "no course" in lost.stderr and "강좌" in lost.stderr, lost.stderr


def test_grading_on_a_dask_cluster(small_class):
    from distributed import LocalCluster

    class_dir, expected = small_class
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        done = course("grade", ASSIGNMENT, "--scheduler", cluster.scheduler_address, *LIMITS, cwd=class_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert scores(class_dir) == expected
