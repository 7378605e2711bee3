"""How long one request across the sandbox wall takes, with the grader and its worker on one CPU and not.

A test handles the student's objects one request at a time, and unit 5's tests make some 67,000 of them
per notebook, so the round trip is what grading an engine costs. This starts a worker forked from a warm
template (as ``course grade`` does), reads an attribute of a student's object ``--count`` times, and
prints the time per round trip two ways in the same run:

1. the baseline: the session claims no CPU (``cores.claim`` answers None), so the kernel places the two
   processes, on two CPUs as often as not;
2. the course: the session claims a CPU and the grader's thread and its worker share it
   (:mod:`autograder.grading.cores`).

It also prints a bare pipe round trip between two processes on two CPUs and on one, for scale.

    python benchmarks/round_trips.py [--count 5000] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from autograder.grading import cores, protocol
from autograder.grading.sandbox import Limits, Session

STUDENT = "class Value:\n    def __init__(self):\n        self.grad = 1.0\n\n\nv = Value()"


def worker_round_trip(count: int, sandbox: bool, share: bool) -> float:
    """Seconds per attribute read of a student's object, averaged over ``count``."""
    claim = cores.claim
    if not share:
        cores.claim = lambda: None
    try:
        with tempfile.TemporaryDirectory() as folder:
            s = Session(Path(folder), limits=Limits(), sandbox=sandbox)
            s.request(protocol.RUN, code=STUDENT)
            handle = s.request(protocol.FETCH, names=["v"])["result"]["items"][0][1]["id"]
            start = time.perf_counter()
            for _ in range(count):
                s.request(protocol.GETATTR, target=handle, name="grad")
            seconds = (time.perf_counter() - start) / count
            s.close()
            return seconds
    finally:
        cores.claim = claim


def pipe_round_trip(count: int, cpus: tuple[int, int] | None) -> float:
    """Seconds per one-byte ping-pong between this process and a child, pinned to ``cpus`` if given."""
    there_r, there_w = os.pipe()
    back_r, back_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if cpus:
            os.sched_setaffinity(0, {cpus[1]})
        for _ in range(count):
            os.read(there_r, 1)
            os.write(back_w, b"x")
        os._exit(0)
    previous = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(there_w, b"x")
            os.read(back_r, 1)
        return (time.perf_counter() - start) / count
    finally:
        os.sched_setaffinity(0, previous)
        os.waitpid(pid, 0)
        for fd in (there_r, there_w, back_r, back_w):
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--no-sandbox", action="store_true", help="a plain worker, forked from this process")
    args = parser.parse_args()
    import torch  # noqa: F401 - as in a grading process: without a sandbox the worker is a fork of this one

    cpus = sorted(os.sched_getaffinity(0))
    sandbox = not args.no_sandbox
    apart = worker_round_trip(args.count, sandbox, share=False)
    shared = worker_round_trip(args.count, sandbox, share=True)
    where = "in the sandbox" if sandbox else "plain"
    print(f"{len(cpus)} CPUs; {args.count} attribute reads of a student's object, worker {where}")
    print(f"baseline: no CPU claimed       {apart * 1e6:7.1f} µs per round trip")
    print(f"course: one CPU for both       {shared * 1e6:7.1f} µs per round trip")
    print(f"one CPU vs baseline: {apart / shared:.2f}x faster")
    if len(cpus) >= 2:
        two = pipe_round_trip(args.count, (cpus[0], cpus[1]))
        one = pipe_round_trip(args.count, (cpus[0], cpus[0]))
        print(f"for scale, a bare pipe round trip: {two * 1e6:.1f} µs on two CPUs, {one * 1e6:.1f} µs on one")


if __name__ == "__main__":
    main()
