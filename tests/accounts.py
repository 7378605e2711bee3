"""Unix accounts for tests that play a hub: users created for the test, commands run as one of them.

Creating users needs root (CI runs as root). A command runs as the user with ``setpriv`` and a clean
environment. When this Python lives under a folder other users cannot enter (pyenv in ``/root``), the
command runs in a mount namespace of its own where a tmpfs covers that folder and the Python's prefix is
bound back into it: the user sees the interpreter and its site-packages, and nothing else of ``/root``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path


def can_create_users() -> bool:
    return os.geteuid() == 0 and all(
        shutil.which(tool) for tool in ("useradd", "userdel", "setpriv", "unshare")
    )


def _closed_ancestor(path: Path) -> Path | None:
    """The first folder above ``path`` that other users cannot enter (e.g. /root holding pyenv)."""
    for folder in reversed(path.parents):
        if folder != Path("/") and not folder.stat().st_mode & 0o001:
            return folder
    return None


class Accounts:
    """Users made for one test (removed by :meth:`close`), each with a home of their own (mode 0700)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.users: dict[str, str] = {}  # name in the test → Unix user
        self.homes: dict[str, Path] = {}
        prefixes = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})
        closed = {p: _closed_ancestor(p) for p in prefixes}
        self.binds = [(p, closed[p]) for p in prefixes if closed[p] is not None]

    def add(self, name: str) -> str:
        user = f"{name}_{os.getpid()}"
        home = self.base / "home" / user
        home.mkdir(parents=True)
        subprocess.run(
            ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin"]
            + ["--user-group", user],
            check=True,
            capture_output=True,
        )
        self.users[name] = user
        entry = pwd.getpwnam(user)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        home.chmod(0o700)
        self.homes[name] = home
        return user

    def give(self, name: str, path: Path) -> None:
        """``path`` and everything under it made ``name``'s."""
        entry = pwd.getpwnam(self.users[name])
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(item, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def command(self, name: str, args: list[str], env: dict[str, str] | None = None) -> list[str]:
        """``args`` as user ``name``, with a clean environment (``HOME``, ``PATH``, ``LANG`` and ``env``)."""
        entry = pwd.getpwnam(self.users[name])
        variables = {
            "HOME": str(self.homes[name]),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **(env or {}),
        }
        inner = [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--clear-groups",
            "--",
            "env",
            "-i",
            *[f"{k}={v}" for k, v in variables.items()],
            *args,
        ]
        if not self.binds:
            return inner
        script, stage = [], self.base / "stage"
        for number, (prefix, _) in enumerate(self.binds):
            (stage / str(number)).mkdir(parents=True, exist_ok=True)
            script.append(f"mount --bind '{prefix}' '{stage / str(number)}'")
        for closed in sorted({c for _, c in self.binds}):
            script.append(f"mount -t tmpfs -o mode=755 tmpfs '{closed}'")
        for number, (prefix, _) in enumerate(self.binds):
            script.append(f"mkdir -p '{prefix}' && mount --bind '{stage / str(number)}' '{prefix}'")
        script.append('exec "$@"')
        shell = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", " && ".join(script)]
        return [*shell, "sh", *inner]

    def run(
        self,
        name: str,
        args: list[str],
        cwd: Path | None = None,
        env: dict | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(name, args, env),
            cwd=cwd or self.homes[name],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def close(self) -> None:
        for user in self.users.values():
            subprocess.run(["userdel", user], capture_output=True)
