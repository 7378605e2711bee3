"""Writing files the one way grading does: staged beside the target, then swapped in with ``os.replace``.

A folder (``autograded/<student>/<assignment>``, a feedback folder) is filled in a staging folder in the
same parent and moved into place in one rename, so a reader never sees half of it and a run killed
half-way leaves the previous folder whole. A single file (a stored result) is written the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_files(base: Path, files: dict[str, bytes]) -> None:
    """``files`` (relative path → bytes) under ``base``; a path that would leave ``base`` is skipped."""
    root = base.resolve()
    for rel, data in files.items():
        target = base / rel
        if target.resolve().is_relative_to(root) and target.resolve() != root:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A staging folder to fill; on a clean exit it replaces ``target`` whole, on an error it is removed
    and ``target`` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """``path`` holding ``text``, or its previous content if writing fails half-way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def scratch_folders(*prefixes: str) -> Iterator[list[Path]]:
    """Temporary folders (one per prefix), removed on exit whatever happens."""
    made = [Path(tempfile.mkdtemp(prefix=prefix)) for prefix in prefixes]
    try:
        yield made
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
