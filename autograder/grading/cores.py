"""One CPU shared by the grader and the student's worker while they talk.

A test handles the student's objects one request at a time (:mod:`.remote`), so grading a notebook can
take tens of thousands of round trips across the sandbox wall, each one a process waiting for the other.
When the two processes sit on different CPUs, every reply has to wake the other CPU; on a virtual machine
that costs far more than the work of the request (measured here: a bare pipe round trip takes 50–70 µs
between two CPUs and 8–9 µs on one; ``python benchmarks/round_trips.py`` prints these and a worker's).
The grader and its worker never run at the same time, so they lose nothing by sharing one CPU.

So each session claims a CPU that no other grading session of this user has claimed: an exclusive ``flock``
on a file per CPU in the temporary folder, released when the session ends or its process dies. The grader's
thread is pinned to it (``sched_setaffinity`` of the calling thread only; it gets its old set back after),
and so is the worker: a worker started by this thread inherits it, one forked by a warm template is told
which CPU in the fork request. Where every CPU is claimed (more grading processes than CPUs), where there
is only one, or where the platform has no affinity, nothing is pinned and everything works as before.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from pathlib import Path

LOCKS = Path(tempfile.gettempdir()) / f"course-cpus-{os.getuid()}"  # a lock file per CPU, this user's


class Core:
    """A CPU claimed for one session, with the calling thread pinned to it; :meth:`release` undoes both."""

    def __init__(self, cpu: int, fd: int, previous: set[int]) -> None:
        self.cpu, self._fd, self._previous = cpu, fd, previous

    def leave(self) -> None:
        """In a child forked from the pinned thread (the worker): close its copy of the lock, which would
        otherwise hold the CPU for as long as the child lives; the child stays on the CPU."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def release(self) -> None:
        if self._fd < 0:
            return
        try:
            os.sched_setaffinity(0, self._previous)
        except OSError:
            pass
        os.close(self._fd)  # closing the descriptor drops its lock
        self._fd = -1


def _lock(cpu: int) -> int:
    """A descriptor holding the exclusive lock of ``cpu``, or -1 when another process holds it."""
    try:
        LOCKS.mkdir(mode=0o700, exist_ok=True)
        folder = LOCKS.lstat()  # ours, and not a link someone else planted in the shared temporary folder
        if not stat.S_ISDIR(folder.st_mode) or folder.st_uid != os.getuid():
            return -1
        fd = os.open(LOCKS / f"{cpu}.lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return -1
    return fd


def claim() -> Core | None:
    """Claim a free CPU of those this thread may run on and pin the thread to it; None if none is free."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        allowed = os.sched_getaffinity(0)
    except OSError:
        return None
    if len(allowed) < 2:
        return None
    for cpu in sorted(allowed):
        fd = _lock(cpu)
        if fd < 0:
            continue
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            os.close(fd)
            return None
        return Core(cpu, fd, allowed)
    return None


def pin_self(cpu: int) -> None:
    """Pin this process (a worker forked by a template) to ``cpu``; a CPU it may not use is ignored."""
    try:
        os.sched_setaffinity(0, {cpu})
    except (OSError, ValueError):
        pass
