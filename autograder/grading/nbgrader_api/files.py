"""Files as nbgrader writes them: the release (``generate_assignment``), the modes of graded and feedback
files, and a submission's files with the source's laid over them."""

from __future__ import annotations

import os
from pathlib import Path

from .configuration import config


def generate_release(root: Path, assignment: str, db_url: str | None = None) -> dict:
    """``nbgrader generate_assignment ASSIGNMENT --force`` in ``root``, run in this process as formgrader
    runs it (one import of nbgrader for every assignment a build releases): with ``--no-db`` unless
    ``db_url`` names a gradebook, which then gets the assignment, its notebooks and its cells (nbgrader's
    ``SaveCells``), as ``nbgrader generate_assignment`` in the course folder would. Returns nbgrader's
    result: ``success``, and ``error`` and ``log`` when it failed."""
    from nbgrader.apps.api import capture_log
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    settings = config(root)
    if db_url is None:
        settings.GenerateAssignment.no_database = True  # what --no-db sets
        settings.SaveCells.enabled = False
    else:
        settings.CourseDirectory.db_url = db_url
    directory = CourseDirectory(config=settings)
    directory.assignment_id = assignment
    converter = GenerateAssignment(coursedir=directory, config=settings)
    converter.force = True
    converter.create_assignment = db_url is not None
    return capture_log(converter)


def set_permissions(coursedir, folder: Path, converter: str) -> None:
    """The modes nbgrader's ``converter`` (``Autograde``, ``GenerateFeedback``) gives the files it writes:
    its ``permissions`` setting, by default 444 for graded files and 644 for feedback (664 for both when
    the course is group-shared); folders 755, or group-writable with the setgid bit when group-shared."""
    default = 664 if coursedir.groupshared else (444 if converter == "Autograde" else 644)
    configured = coursedir.config.get(converter, {}).get("permissions", default)
    files = int(str(configured if isinstance(configured, int) else default), 8)
    for path, _, names in os.walk(folder):
        os.chmod(path, 0o2775 if coursedir.groupshared else 0o755)
        for name in names:
            os.chmod(os.path.join(path, name), files)


def submission_files(coursedir, assignment: str, folder: Path, limit: int) -> dict[str, bytes]:
    """Every file of a submission but its notebooks, then the source folder's files laid over them, as
    nbgrader's autograde does ("Overwriting files with master versions from the source directory"),
    honouring ``CourseDirectory.ignore`` and ``Autograde.exclude_overwriting``. At most ``limit`` bytes."""
    from nbgrader.utils import find_all_files

    ignore = list(coursedir.ignore) + ["*.ipynb"]
    files: dict[str, bytes] = {}
    total = 0

    def add(base: Path, exclude: set[str]) -> None:
        nonlocal total
        if not base.is_dir():
            return
        for name in sorted(find_all_files(str(base), ignore)):
            path = Path(name)
            rel = str(path.relative_to(base))
            if rel in exclude or path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if total + size > limit:
                continue
            total += size - len(files.get(rel, b""))
            files[rel] = path.read_bytes()

    add(Path(folder), set())
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    excluded = coursedir.config.get("Autograde", {}).get("exclude_overwriting", {}) or {}
    add(source, set(excluded.get(assignment, [])))
    return files
