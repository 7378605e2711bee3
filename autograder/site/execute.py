"""Each lecture executed once, for the site and for the test suite alike.

The Korean and English lectures share every code cell (``tests/test_notebooks.py`` checks it), so each
lecture runs once, in Korean, and the English notebook takes that run's outputs cell for cell.

With a cache folder the run is kept there as ``<lecture>-<key>.ipynb``, where the key is a digest of the
lecture's code and of the course's package (which the lectures import), so a changed lecture or package
runs again. A file lock per lecture lets several processes (pytest-xdist workers: the notebook tests and
the site's build) share one cache: each lecture runs in one of them, the others read its result, and a
process waiting for one lecture first takes any lecture nobody is running.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from ..course import Course, CourseError

PACKAGE = Path(__file__).resolve().parent.parent
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds; the slowest cell of a lecture takes a few seconds


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def cache_key(nb: nbformat.NotebookNode) -> str:
    """A digest of what decides a run's outputs: the lecture's code and the package it imports."""
    digest = hashlib.sha256(json.dumps([KERNEL, code_sources(nb)], ensure_ascii=False).encode())
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run(course: Course, name: str) -> nbformat.NotebookNode:
    """The Korean lecture ``name`` executed in a fresh kernel, from its own folder."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = course.lectures("ko") / name
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
        raise CourseError("site_lecture_failed", lecture=f"notebooks/ko/{name}", error=last[0]) from error
    return nb


def _cached(course: Course, name: str, cache: Path) -> tuple[Path, object]:
    from filelock import FileLock

    key = cache_key(nbformat.read(course.lectures("ko") / name, as_version=4))
    return cache / f"{Path(name).stem}-{key}.ipynb", FileLock(str(cache / f"{Path(name).stem}.lock"))


def _load_or_run(course: Course, name: str, target: Path, progress) -> nbformat.NotebookNode:
    if target.is_file():
        return nbformat.read(target, as_version=4)
    if progress:
        progress(f"notebooks/ko/{name}")
    nb = run(course, name)
    partial = target.with_suffix(".partial")
    nbformat.write(nb, partial)
    partial.replace(target)  # whole or absent, for a reader that does not take the lock
    return nb


def executed_lectures(
    course: Course,
    names: Iterable[str] | None = None,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, nbformat.NotebookNode]:
    """The Korean lectures ``names`` (default: all) executed, by lecture file name."""
    names = list(names) if names is not None else [p.name for p in course.lecture_notebooks()]
    if cache is None:
        done = {}
        for name in names:
            if progress:
                progress(f"notebooks/ko/{name}")
            done[name] = run(course, name)
        return done
    from filelock import Timeout

    cache.mkdir(parents=True, exist_ok=True)
    done: dict[str, nbformat.NotebookNode] = {}
    pending = {name: _cached(course, name, cache) for name in names}
    while pending:
        for name, (target, lock) in list(pending.items()):
            try:
                lock.acquire(blocking=False)
            except Timeout:  # another process is running it
                continue
            try:
                done[name] = _load_or_run(course, name, target, progress)
            finally:
                lock.release()
            del pending[name]
        if pending:  # every one left is being run elsewhere: wait for the first
            name, (target, lock) = next(iter(pending.items()))
            with lock:
                done[name] = _load_or_run(course, name, target, progress)
            del pending[name]
    return {name: done[name] for name in names}


def with_outputs(nb: nbformat.NotebookNode, executed: nbformat.NotebookNode, label: str):
    """``nb`` (a lecture in another language) with the outputs of ``executed``, code cell for code cell."""
    mine = [cell for cell in nb.cells if cell.cell_type == "code"]
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    if [c.source for c in mine] != [c.source for c in ran]:
        raise ValueError(f"{label} runs other code than the lecture executed")
    for cell, done in zip(mine, ran, strict=True):
        cell.outputs = done.outputs
        cell.execution_count = done.execution_count
    return nb


def executed_lecture(course: Course, lang: str, name: str, executed: nbformat.NotebookNode):
    """The lecture ``name`` in ``lang`` with the outputs of its executed Korean twin."""
    nb = nbformat.read(course.lectures(lang) / name, as_version=4)
    return with_outputs(nb, executed, f"{lang}/{name}")
