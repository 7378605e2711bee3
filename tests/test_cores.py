"""One CPU for the grader and its worker (autograder/grading/cores.py): claimed per session, never by two
sessions at once, pinned on both sides, and given back when the session ends."""

from __future__ import annotations

import os
import threading

import pytest

from autograder.grading import cores, sandbox
from autograder.grading.sandbox import Limits, Session, check_sandbox

CPUS = sorted(os.sched_getaffinity(0))
LIMITS = Limits(cell_seconds=30.0)


@pytest.fixture(autouse=True)
def own_locks(tmp_path, monkeypatch):
    """Locks of this test's own: grading elsewhere in the suite holds the shared ones."""
    monkeypatch.setattr(cores, "LOCKS", tmp_path / "cpus")


def in_thread(function):
    """``function()`` in a thread of its own (affinity is a thread's), its result or its exception."""
    box = {}

    def run():
        try:
            box["result"] = function()
        except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
            box["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_a_claim_pins_the_thread_and_its_release_gives_the_old_set_back():
    def claim_and_release():
        core = cores.claim()
        during = os.sched_getaffinity(0)
        core.release()
        return core.cpu, during, os.sched_getaffinity(0)

    if len(CPUS) < 2:  # one CPU: nothing to share, nothing is pinned
        assert in_thread(cores.claim) is None
        return
    cpu, during, after = in_thread(claim_and_release)
    assert during == {cpu}
    assert after == set(CPUS)


@pytest.mark.skipif(len(CPUS) < 2, reason="one CPU: claim() pins nothing")
def test_two_sessions_never_share_a_cpu_and_one_past_the_last_cpu_is_not_pinned():
    held = [in_thread(cores.claim) for _ in CPUS]
    assert sorted(core.cpu for core in held) == CPUS
    assert in_thread(cores.claim) is None  # every CPU claimed: this one runs where the kernel puts it
    held[0].release()
    again = in_thread(cores.claim)
    assert again.cpu == held[0].cpu  # a released CPU is free again
    for core in [again, *held[1:]]:
        core.release()


def test_a_lock_folder_that_is_not_ours_is_not_used(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "planted"
    link.symlink_to(target)
    monkeypatch.setattr(cores, "LOCKS", link)
    assert in_thread(cores.claim) is None
    assert list(target.iterdir()) == []  # no lock file made through the link


AFFINITY = "import os\nprint(sorted(os.sched_getaffinity(0)))"


def worker_affinity(tmp_path, use_sandbox: bool) -> tuple[str, int | None, set[int], set[int]]:
    """The CPUs the worker reports, the session's CPU, and the grader thread's CPUs during and after."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    with Session(folder, limits=LIMITS, sandbox=use_sandbox, slot=9) as session:
        reply = session.request("run", code=AFFINITY)
        printed = "".join(o.get("text", "") for o in reply.get("outputs", []))
        cpu = session._core.cpu if session._core is not None else None
        during = os.sched_getaffinity(0)
    return printed.strip(), cpu, during, os.sched_getaffinity(0)


@pytest.mark.skipif(len(CPUS) < 2, reason="one CPU: claim() pins nothing")
@pytest.mark.parametrize("use_sandbox", [False, True], ids=["plain worker", "forked by a warm template"])
def test_the_worker_runs_on_the_graders_cpu(tmp_path, monkeypatch, use_sandbox):
    if use_sandbox:
        problem = check_sandbox()
        if problem:
            pytest.fail(f"bubblewrap must run here for this test: {problem}")
        monkeypatch.delenv(sandbox.WARM_TEMPLATES, raising=False)
    printed, cpu, during, after = in_thread(lambda: worker_affinity(tmp_path, use_sandbox))
    assert cpu is not None
    assert printed == f"[{cpu}]"
    assert during == {cpu}
    assert after == set(CPUS)  # the session's end gave the thread its CPUs back
    core = in_thread(cores.claim)
    assert core.cpu == min(CPUS)  # and its lock
    core.release()
