"""Start the student's worker process inside a bubblewrap sandbox, and talk to it.

The sandbox sees a read-only system and Python, the course package, and a private copy of the one
submission it grades; nothing of ``source/``, the gradebook, other submissions or the instructor's home.
It has no network (its own empty network namespace), its own process namespace, and limits on memory
(address space), processes, open files, file size and CPU time. As root, the worker runs as an
unprivileged user id (one per job slot), so the process limit really binds; otherwise it runs as the
instructor's own user inside a user namespace.

Where bubblewrap cannot run, :func:`check_sandbox` says so and the grader refuses, unless the instructor
passes ``--no-sandbox``; then the worker is a plain child process and only the judging stays trusted.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import protocol, wire


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 60.0  # wall time for one cell or one call
    notebook_seconds: float = 600.0  # wall time for a whole notebook
    memory_bytes: int = 4 << 30  # address space of the worker
    processes: int = 64  # processes and threads of the sandbox user
    output_bytes: int = 64 << 20  # largest reply line; also largest file written
    tmp_bytes: int = 256 << 20  # the sandbox's writable /tmp and work folder


class SandboxUnavailable(RuntimeError):
    pass


class WorkerDied(RuntimeError):
    """The worker process ended (crash, os._exit, killed for a limit)."""


class WorkerTimeout(RuntimeError):
    """A cell or call ran past its time limit; the worker was killed."""


def _bwrap() -> str | None:
    return shutil.which("bwrap")


def check_sandbox() -> str | None:
    """None when bubblewrap can start a sandbox here; otherwise why not."""
    exe = _bwrap()
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    probe = subprocess.run(
        [*_bwrap_prefix(exe, Path(tempfile.gettempdir()), slot=0), "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return (probe.stderr.strip() or f"bwrap exited with {probe.returncode}").splitlines()[-1]
    return None


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def _readonly_roots() -> list[Path]:
    """What the worker needs to read: Python, its site-packages, and this package, nothing else.

    Not ``sys.path``: it holds the current folder and, for an editable install, the whole repository,
    which would expose ``source/``.
    """
    import site

    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    for entry in [*site.getsitepackages(), site.getusersitepackages()]:
        roots.add(Path(entry))
    roots.add(Path(__file__).resolve().parent.parent)  # the autograder package, wherever it is installed
    system = (Path("/usr"), Path("/etc"), Path("/opt"))
    kept = sorted(
        r for r in roots if r.is_absolute() and r.is_dir() and not any(r.is_relative_to(s) for s in system)
    )
    return [r for r in kept if not any(r != other and r.is_relative_to(other) for other in kept)]


def _bwrap_prefix(exe: str, job_dir: Path, slot: int, tmp_bytes: int = Limits.tmp_bytes) -> list[str]:
    args = [
        exe,
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind-try",
        "/opt",
        "/opt",
    ]
    for name in ("lib", "lib64", "bin", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "localtime"):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # /tmp first: Python itself may live under /tmp (a virtual environment there), bound on top of it
    args += ["--size", str(tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[Path] = {Path("/tmp")}
    for root in _readonly_roots():
        for parent in _ancestors(root):
            if parent not in made and not parent.is_relative_to(Path("/usr")):
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(root), str(root)]
    args += ["--ro-bind", str(job_dir), "/submission"]
    if os.geteuid() == 0:
        uid = 61000 + slot
        args += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all"]
    else:
        args += ["--unshare-user", "--"]
    return args


def _user_tasks() -> int:
    """How many processes and threads this user runs now (what RLIMIT_NPROC counts)."""
    uid, count = os.geteuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                count += int(fields.get("Threads", "1"))
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return count


def _limit(limits: Limits, sandboxed: bool):
    # Not root: the limit counts all of the instructor's processes, so it is set above what runs now.
    nproc = limits.processes if os.geteuid() == 0 else _user_tasks() + limits.processes

    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        cpu = int(limits.notebook_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        if sandboxed:
            # as root, the sandbox user owns nothing else, so this bounds the submission's processes
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


class Session:
    """One worker for one submission: start, send requests, kill."""

    def __init__(
        self,
        submission_dir: Path,
        *,
        limits: Limits,
        sandbox: bool,
        slot: int = 0,
        in_place: bool = False,
        started: float | None = None,
    ) -> None:
        """``in_place`` (only without a sandbox): run in ``submission_dir`` itself, copying nothing; for a
        student checking their own notebook where it is."""
        self.limits = limits
        self.sandbox = sandbox
        self.started = started if started is not None else time.monotonic()  # the notebook's clock
        self._next = 0
        self.serve = None  # answers the worker's requests about the grader's objects (set by the judge)
        self.job_dir = Path(tempfile.mkdtemp(prefix="course-grade-"))
        os.chmod(self.job_dir, 0o755)
        files = self.job_dir / "files"
        if not in_place:
            shutil.copytree(submission_dir, files, symlinks=False, ignore_dangling_symlinks=True)
            for path in [files, *files.rglob("*")]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/mpl",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NBGRADER_EXECUTION": "autograde",
            "COURSE_GRADING": "1",
        }
        package_parent = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = package_parent
        worker = [sys.executable, "-c", _BOOT]
        if sandbox:
            exe = _bwrap()
            if exe is None:
                raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
            command = [*_bwrap_prefix(exe, files, slot, limits.tmp_bytes), *worker]
            cwd = "/"
        else:
            workdir = Path(submission_dir).resolve() if in_place else self.job_dir / "work"
            if not in_place:
                shutil.copytree(files, workdir)
            env["HOME"] = str(self.job_dir)  # IPython and matplotlib write their settings there, not here
            env["MPLCONFIGDIR"] = str(self.job_dir / "mpl")
            env["COURSE_WORKDIR"] = str(workdir)
            command, cwd = worker, str(workdir)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            preexec_fn=_limit(limits, sandbox),
        )
        self._buffer = b""
        try:
            hello = self._read(limits.cell_seconds * 2)
        except (WorkerDied, WorkerTimeout):
            self.close()
            raise
        if hello.get("op") != protocol.READY:
            self.kill()
            raise WorkerDied("the worker did not start")

    # -------------------------------------------------------------------------------------------- io

    def _deadline(self, seconds: float) -> float:
        left = self.limits.notebook_seconds - (time.monotonic() - self.started)
        return time.monotonic() + max(0.0, min(seconds, left))

    def _read(self, seconds: float) -> dict:
        deadline = self._deadline(seconds)
        out = self.process.stdout
        fd = out.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.kill()
                raise WorkerDied()
            self._buffer += chunk
            if len(self._buffer) > self.limits.output_bytes:
                self.kill()
                raise WorkerDied("the reply was too large")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return wire.loads(line)
        except wire.WireError:
            self.kill()
            raise WorkerDied("the worker sent something unreadable") from None

    def _send(self, message: dict) -> None:
        try:
            self.process.stdin.write(wire.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise WorkerDied() from None

    def request(self, op: str, **fields: object) -> dict:
        """Send a request and wait for its reply (within the cell's time limit). Requests the worker makes
        meanwhile (the student's code calling back one of the test's objects) go to ``self.serve``."""
        if self.process.poll() is not None:
            raise WorkerDied()
        self._next += 1
        ident = self._next
        self._send({"op": op, "id": ident, **fields})
        while True:
            message = self._read(self.limits.cell_seconds)
            if message.get("op") == protocol.REPLY:
                if message.get("id") == ident:
                    return message
                continue
            if self.serve is None or message.get("op") not in protocol.WORKER_OPS:
                reply = {"error": {"ename": "ProtocolError", "evalue": "not served"}}
            else:
                reply = self.serve(message)
            self._send({"op": protocol.REPLY, "id": message.get("id"), **reply})

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.job_dir, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Inside the sandbox: copy the submission's files to a writable folder, move there, start the worker.
_BOOT = """
import os, shutil, sys
work = os.environ.get("COURSE_WORKDIR") or "/tmp/work"
if not os.environ.get("COURSE_WORKDIR"):
    shutil.copytree("/submission", work)
os.chdir(work)
sys.path.insert(0, work)
from autograder.grading.worker import main
main()
"""
