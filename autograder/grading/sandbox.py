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

import atexit
import multiprocessing.util
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import cores, protocol, template, wire


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


def _address_space() -> int:
    """This process's address space now, in bytes (0 where /proc does not say)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit(limits: Limits, sandboxed: bool, forked: bool = False):
    """What a new worker process sets before the student's code runs. ``forked``: a fork of this very
    process (no sandbox), whose address space is this process's image, however large a test run or a
    kernel has made it; the student may add ``memory_bytes`` to it."""
    # Not root: the limit counts all of the instructor's processes, so it is set above what runs now.
    nproc = limits.processes if os.geteuid() == 0 else _user_tasks() + limits.processes

    def apply() -> None:
        os.setsid()
        memory = limits.memory_bytes + (_address_space() if forked else 0)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        cpu = int(limits.notebook_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        if sandboxed:
            # as root, the sandbox user owns nothing else, so this bounds the submission's processes
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


def _environment() -> dict[str, str]:
    """The worker's whole environment: nothing of the instructor's."""
    return {
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
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent.parent),
    }


def _copy_submission(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=False, ignore_dangling_symlinks=True, dirs_exist_ok=True)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


WARM_TEMPLATES = "COURSE_WARM_TEMPLATES"  # set to 0: one sandbox started per submission, nothing kept warm


class Template:
    """The warm template of one job slot (:mod:`autograder.grading.template`): a sandbox started once,
    with torch imported, that forks one isolated worker per submission. The grader fills the slot's
    submission folder (bound read-only at ``/submission``) before each fork and empties it after."""

    def __init__(self, slot: int, limits: Limits) -> None:
        exe = _bwrap()
        if exe is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        self.limits = limits
        self.dir = Path(tempfile.mkdtemp(prefix="course-slot-"))
        self.files = self.dir / "files"
        self.files.mkdir()
        for path in (self.dir, self.files):
            os.chmod(path, 0o755)
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [
            *_bwrap_prefix(exe, self.files, slot, limits.tmp_bytes),
            sys.executable,
            "-c",
            template.BOOT,
            str(limits.tmp_bytes),
            str(theirs.fileno()),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=_environment(),
            pass_fds=(theirs.fileno(),),
            preexec_fn=_limit(limits, sandboxed=True),
        )
        theirs.close()
        self.ready = False  # its torch import runs while the grader does other work; see wait_ready

    def wait_ready(self) -> None:
        """Block until the template has imported torch and waits for a fork (once)."""
        if self.ready:
            return
        try:
            self._expect(b"ready", self.limits.cell_seconds * 2)
        except WorkerDied:
            self.close()
            raise
        self.ready = True

    def _expect(self, reply: bytes, seconds: float) -> None:
        ready, _, _ = select.select([self._control], [], [], seconds)
        answer = self._control.recv(64) if ready else b""
        if answer != reply:
            raise WorkerDied(f"the warm template did not answer {reply.decode()!r}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, submission_dir: Path, core: cores.Core | None = None) -> tuple[int, int]:
        """A new worker for ``submission_dir`` (pinned to ``core``'s CPU): the grader's ends of its stdin
        and stdout."""
        self._empty()
        _copy_submission(submission_dir, self.files)
        child_in, grader_in = os.pipe()
        grader_out, child_out = os.pipe()
        request = b"fork" if core is None else b"fork %d" % core.cpu
        try:
            socket.send_fds(self._control, [request], [child_in, child_out])
            self._expect(b"forked", self.limits.cell_seconds)
        except (OSError, WorkerDied):
            for fd in (grader_in, grader_out):
                os.close(fd)
            raise WorkerDied("the warm template is gone") from None
        finally:
            os.close(child_in)
            os.close(child_out)
        return grader_in, grader_out

    def kill(self) -> None:
        """End the worker and everything it started (its PID namespace), and empty the slot's folder."""
        try:
            self._control.sendall(b"kill")
            self._expect(b"killed", 30)
        except (OSError, WorkerDied):
            self.close()
        self._empty()

    def _empty(self) -> None:
        """Empty the slot's folder in place: the sandbox binds this very directory, not its name."""
        for entry in self.files.iterdir() if self.files.is_dir() else ():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def close(self) -> None:
        self._control.close()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# One template per slot, limits and thread: a Dask worker grades in several threads of one process, and a
# template forks one worker at a time.
_templates: dict[tuple[int, Limits, int], Template] = {}
_no_templates: set[tuple[int, Limits]] = set()  # slots where a template could not start: cold sandboxes


def close_templates() -> None:
    """End this process's templates and remove their folders (at exit; a pool process runs the
    finalizers of ``multiprocessing.util``, not ``atexit``)."""
    while _templates:
        _templates.popitem()[1].close()


atexit.register(close_templates)
multiprocessing.util.Finalize(None, close_templates, exitpriority=10)


def warm_template(slot: int, limits: Limits, *, wait: bool = True) -> Template | None:
    """This process's template for ``slot``, started on first use; None where none can run here.

    ``wait=False`` only starts it (a grading process's warm-up: the template imports torch in its
    sandbox while the grading process imports its own); the first fork waits for it to be ready.
    """
    if os.environ.get(WARM_TEMPLATES, "1") == "0" or (slot, limits) in _no_templates:
        return None
    key = (slot, limits, threading.get_ident())
    current = _templates.get(key)
    if current is not None and not current.alive():
        current.close()
        current = None
    try:
        if current is None:
            current = _templates[key] = Template(slot, limits)
        if wait:
            current.wait_ready()
    except (WorkerDied, OSError):
        _templates.pop(key, None)
        _no_templates.add((slot, limits))
        return None
    return current


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
        self._buffer = b""
        self._template = warm_template(slot, limits) if sandbox else None
        self.job_dir = None
        self.process = None
        self._pid = 0  # a worker forked from this process (no sandbox)
        self._alive = False
        self._core = cores.claim()  # one CPU for this thread and its worker
        try:
            if self._template is not None:
                self._in, self._out = self._template.fork(Path(submission_dir), self._core)
            else:
                self._start_process(Path(submission_dir), slot, in_place)
        except BaseException:
            self._release()
            raise
        self._alive = True
        os.set_blocking(self._out, False)  # see _read
        try:
            hello = self._read(limits.cell_seconds * 2)
        except (WorkerDied, WorkerTimeout):
            self.close()
            raise
        if hello.get("op") != protocol.READY:
            self.kill()
            raise WorkerDied("the worker did not start")

    def _start_process(self, submission_dir: Path, slot: int, in_place: bool) -> None:
        """A worker of its own: a new sandbox (or, without one, a plain child process)."""
        self.job_dir = Path(tempfile.mkdtemp(prefix="course-grade-"))
        os.chmod(self.job_dir, 0o755)
        files = self.job_dir / "files"
        if not in_place:
            _copy_submission(submission_dir, files)
        env = _environment()
        if self.sandbox:
            exe = _bwrap()
            if exe is None:
                raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
            command, cwd = [*_bwrap_prefix(exe, files, slot, self.limits.tmp_bytes), *_WORKER], "/"
        else:
            workdir = submission_dir.resolve() if in_place else self.job_dir / "work"
            if not in_place:
                shutil.copytree(files, workdir)
            env["HOME"] = str(self.job_dir)  # IPython and matplotlib write their settings there, not here
            env["MPLCONFIGDIR"] = str(self.job_dir / "mpl")
            env["COURSE_WORKDIR"] = str(workdir)
            if os.environ.get(WARM_TEMPLATES, "1") != "0" and "torch" in sys.modules:
                self._fork_here(workdir, env)
                return
            command, cwd = _WORKER, str(workdir)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            preexec_fn=_limit(self.limits, self.sandbox),
        )
        self._in, self._out = self.process.stdin.fileno(), self.process.stdout.fileno()

    def _fork_here(self, workdir: Path, env: dict[str, str]) -> None:
        """Without a sandbox, where torch is imported already (``course check``, ``show()`` in a kernel):
        the worker is a fork of this process, so torch is not imported a second time. The student's code
        runs as the student anyway; the worker still gets its own session, limits, folder and environment,
        and forgets the modules this process imported from the student's folder (a kernel's stale copies).
        """
        child_in, grader_in = os.pipe()
        grader_out, child_out = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(grader_in)
                os.close(grader_out)
                if self._core is not None:
                    self._core.leave()
                os.dup2(child_in, 0)
                os.dup2(child_out, 1)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                _limit(self.limits, sandboxed=False, forked=True)()
                os.environ.clear()
                os.environ.update(env)
                os.chdir(workdir)
                for name, module in list(sys.modules.items()):
                    origin = getattr(module, "__file__", None)
                    if origin and Path(origin).resolve().is_relative_to(workdir):
                        del sys.modules[name]
                sys.path.insert(0, str(workdir))
                from .worker import main

                main()
            finally:
                os._exit(0)
        os.close(child_in)
        os.close(child_out)
        self._pid = pid
        self._in, self._out = grader_in, grader_out

    # -------------------------------------------------------------------------------------------- io

    def _deadline(self, seconds: float) -> float:
        left = self.limits.notebook_seconds - (time.monotonic() - self.started)
        return time.monotonic() + max(0.0, min(seconds, left))

    def _read(self, seconds: float) -> dict:
        deadline = self._deadline(seconds)
        fd = self._out
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerTimeout()
            # Read first, select only when nothing is there: the reply is often in already (the worker ran
            # on this CPU, :mod:`.cores`), and a select with a timeout arms a timer, which on a virtual
            # machine costs more than the request (benchmarks/round_trips.py: 50 µs a round trip, not 100).
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                select.select([fd], [], [], left)
                continue
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
        data = wire.dumps(message).encode() + b"\n"
        try:
            while data:
                data = data[os.write(self._in, data) :]
        except (BrokenPipeError, OSError):
            self.kill()
            raise WorkerDied() from None

    def request(self, op: str, **fields: object) -> dict:
        """Send a request and wait for its reply (within the cell's time limit). Requests the worker makes
        meanwhile (the student's code calling back one of the test's objects) go to ``self.serve``."""
        if not self.alive():
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
        if self.process is not None:
            return self.process.poll() is None
        if self._pid and self._alive:
            try:
                return os.waitpid(self._pid, os.WNOHANG) == (0, 0)
            except ChildProcessError:
                return False
        return self._alive

    def kill(self) -> None:
        self._alive = False
        if self._template is not None:
            self._template.kill()
            return
        if self._pid:
            try:
                os.killpg(self._pid, signal.SIGKILL)  # its own session: whatever it started goes too
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _release(self) -> None:
        if self._core is not None:
            self._core.release()
            self._core = None

    def close(self) -> None:
        if self._alive:
            self.kill()
        self._release()
        if self.process is not None:
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        else:
            for fd in (self._in, self._out):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.job_dir is not None:
            shutil.rmtree(self.job_dir, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WORKER = [sys.executable, "-c", None]  # the boot code is set below

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
_WORKER[2] = _BOOT
