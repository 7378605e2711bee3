"""A warm template per job slot: torch imported once, one fresh, isolated process per submission.

Starting a worker costs about two core-seconds, most of them importing torch. So each job slot keeps one
*template*: a process started inside the slot's bubblewrap sandbox (:mod:`autograder.grading.sandbox`:
read-only system, no network, the slot's unprivileged user, its limits), which imports torch, numpy and
the worker once and then does nothing but fork. It never runs a line of a student's code.

For each submission the grader hands the template two fresh pipes (over a Unix socket, as file
descriptors), and the template forks a worker that, before any student code runs, moves into namespaces
of its own:

- a user namespace that maps only the slot's own user (so the mounts below need no privilege outside it,
  and every mount inherited from the sandbox stays locked read-only);
- a mount namespace with a new size-limited tmpfs on ``/tmp`` and ``/dev/shm`` (the sandbox's read-only
  binds below them, a Python or this package installed under ``/tmp``, are bound on it again), and an
  empty ``/proc`` (the kernel refuses a new proc inside bubblewrap's, whose parts it covers; the sandbox's
  own would show the template): nothing an earlier submission wrote can be seen, and the template cannot
  be reached;
- a PID namespace, in which the worker is process 1: when it ends, the kernel kills whatever the student
  left running, and the student cannot see or signal the template or anyone else;
- a network namespace (no interface but a loopback that is down) and an IPC namespace.

It then drops every capability, sets ``no_new_privs``, copies the submission into its ``/tmp/work`` and
serves the protocol on the pipes. The resource limits are the sandbox's, inherited; CPU time starts at
zero in every fork. Memory is copied on write, so nothing a student patches reaches the template or the
next student.

This is the only namespace code of the project: bubblewrap (a maintained tool) builds the sandbox, this
adds the per-submission namespaces inside it, with ``unshare(2)`` and ``mount(2)`` through ctypes (Python
3.11 has no ``os.unshare``). :func:`probe` checks that the kernel allows it; where it does not, the grader
starts one sandbox per submission, as before.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import sys
import traceback

from .cores import pin_self

# from <sched.h> and <sys/mount.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 12, 1 << 14, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
SUBMISSION = "/submission"  # the slot's submission folder, bound read-only (the grader fills it)
WORK = "/tmp/work"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            kind.encode() if kind else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _drop_capabilities() -> None:
    """No capability left, in the permitted, effective and inheritable sets (capset(2), version 3)."""
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def isolate(tmp_bytes: int) -> None:
    """Move this (forked) process into namespaces of its own; its next child is PID 1 there."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # the template is not: its /proc is root's
    _check(_libc.unshare(NAMESPACES), "unshare")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates anywhere
    for target in ("/tmp", "/dev/shm"):
        if os.path.isdir(target):
            kept = _mounts_below(target)
            # held open across the new tmpfs, which hides their paths (Python or this package under /tmp)
            held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in kept]
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},mode=1777")
            for path, fd in held:
                os.makedirs(path, mode=0o755, exist_ok=True)
                # a recursive bind keeps the sandbox's read-only lock (a user namespace cannot lift it)
                _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                os.close(fd)


def _mounts_below(folder: str) -> list[str]:
    """The topmost mount points strictly inside ``folder`` (from /proc/self/mountinfo): the read-only
    binds bubblewrap laid on the sandbox's /tmp for a Python or a package installed under it."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [_unescape(line.split()[4]) for line in f]
    inside = sorted({p for p in points if p.startswith(folder.rstrip("/") + "/")})
    return [p for p in inside if not any(p.startswith(other + "/") for other in inside)]


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline and backslash in a path as octal escapes (\\040 and so on)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _become_worker(stdin_fd: int, stdout_fd: int) -> None:
    """PID 1 of the new namespaces: its own /proc, no capabilities, the submission copied, then serve."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    # An empty /proc: a new proc cannot be mounted (bubblewrap covers parts of its own, and the kernel
    # refuses a proc that would reveal what those hide), and the sandbox's proc would show the template.
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
    _drop_capabilities()
    os.dup2(stdin_fd, 0)
    os.dup2(stdout_fd, 1)
    os.closerange(3, 1 << 16)  # the control socket and every descriptor the template had
    shutil.copytree(SUBMISSION, WORK)
    os.chdir(WORK)
    sys.path.insert(0, WORK)
    from .worker import main

    main()


def _fork_worker(stdin_fd: int, stdout_fd: int, tmp_bytes: int, cpu: int | None) -> int:
    """Fork the process that isolates itself and waits for the worker, PID 1 of its namespaces (on the
    grader's CPU, when it names one: :mod:`.cores`)."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        if cpu is not None:
            pin_self(cpu)
        isolate(tmp_bytes)
        worker = os.fork()
        if worker == 0:
            try:
                _become_worker(stdin_fd, stdout_fd)
            except BaseException:  # noqa: BLE001 - the grader sees a worker that died; stderr says why
                traceback.print_exc()
            os._exit(0)
        os.close(stdin_fd)
        os.close(stdout_fd)
        os.waitpid(worker, 0)
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    os._exit(code)


def warm_autograd() -> None:
    """Run autograd once, with a tensor as ``grad_outputs``: that path's first call imports torch.fx's
    symbolic shapes and sympy (half a second), which a slot's template and a grading process pay once, not per
    submission. (``course check`` does not: the checker never takes that path, see ``checker.vjp``.)"""
    import torch

    x = torch.ones(2, requires_grad=True)
    torch.autograd.grad((x * x).sum(), x, grad_outputs=torch.ones(()))


def warm() -> None:
    """What every worker needs, imported once: torch, numpy, autograd's lazy imports, the worker's modules."""
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    warm_autograd()
    from . import remote, wire, worker  # noqa: F401


def serve(tmp_bytes: int, control_fd: int) -> None:
    """The template's loop: ``fork`` or ``fork CPU`` (with two descriptors) starts a worker, ``kill``
    ends it."""
    control = socket.socket(fileno=control_fd)
    # not dumpable: a process of the same user cannot read or write this one's memory (/proc/PID/mem)
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "dumpable")
    warm()
    control.sendall(b"ready")
    child = 0
    while True:
        message, fds, _, _ = socket.recv_fds(control, 64, 2)
        if not message:  # the grader is gone
            os._exit(0)
        word, _, cpu = message.partition(b" ")  # "fork", or "fork CPU"
        if word == b"fork" and len(fds) == 2 and not child:
            child = _fork_worker(fds[0], fds[1], tmp_bytes, int(cpu) if cpu.isdigit() else None)
            reply = b"forked"
        elif message == b"kill":
            if child:
                try:
                    os.kill(child, signal.SIGKILL)  # the worker dies with it (PDEATHSIG), then its namespace
                except ProcessLookupError:
                    pass
                os.waitpid(child, 0)
                child = 0
            reply = b"killed"
        else:
            reply = b"refused"
        for fd in fds:
            os.close(fd)
        control.sendall(reply)


BOOT = "import sys; from autograder.grading.template import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"
