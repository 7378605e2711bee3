"""Every call into nbgrader that ``course grade`` and ``course feedback`` make, in one module.

nbgrader keeps the books: the course's configuration, the gradebook, sanitizing a submitted notebook with
its own preprocessors, and storing automatic scores (manual grades are never touched).
"""

from __future__ import annotations

import os
from pathlib import Path


def config(root: Path):
    from traitlets.config.loader import Config, PyFileConfigLoader

    config = Config()
    path = root / "nbgrader_config.py"
    if path.is_file():
        config.merge(PyFileConfigLoader(path.name, path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    return config


def coursedir(root: Path):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config(root))


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


def resources(coursedir, assignment: str, student: str, notebook: str) -> dict:
    return {
        "nbgrader": {
            "notebook": notebook,
            "assignment": assignment,
            "student": student,
            "db_url": coursedir.db_url,
        },
        "metadata": {"path": ""},
    }


def canonical_marks(nb, gb, notebook: str, assignment: str) -> None:
    """Grade metadata as the gradebook knows it: unknown grade ids dropped, known ones rewritten whole.

    A student can add, alter or break cell metadata; nbgrader's ``CheckCellMetadata`` would then refuse
    the notebook. What a cell is (answer, test, locked) is decided by the gradebook, not by the file.
    """
    from nbformat import NotebookNode

    source = gb.find_notebook(notebook, assignment)
    known = {c.name: c for c in source.source_cells}
    grades = {c.name: c.max_score for c in source.grade_cells}
    solutions = {c.name for c in source.solution_cells}
    for cell in nb.cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = NotebookNode()  # not even a mapping: nothing in it can be trusted or kept
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(grade_id, str) or grade_id not in known:
            cell.metadata.pop("nbgrader", None)
            continue
        canonical = {
            "grade_id": grade_id,
            "locked": bool(known[grade_id].locked),
            "solution": grade_id in solutions,
            "grade": grade_id in grades,
            "schema_version": 3,
        }
        if grade_id in grades:
            canonical["points"] = grades[grade_id]
        checksum = meta.get("checksum")
        if isinstance(checksum, str):
            canonical["checksum"] = checksum
        if cell.cell_type != known[grade_id].cell_type:
            cell.metadata.pop("nbgrader", None)  # a student's cell of another type; the original is restored
            continue
        cell.metadata["nbgrader"] = canonical


def sanitize(nb, coursedir, resources: dict):
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    config = coursedir.config
    for kind in (ClearOutput, DeduplicateIds):
        nb, resources = kind(config=config).preprocess(nb, resources)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]  # DeduplicateIds empties the metadata of a repeated cell
    for kind in (OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = kind(config=config).preprocess(nb, resources)
    return nb


def restore_cells(nb, gb, notebook: str, assignment: str, template: Path | None) -> list[str]:
    """Put back graded and locked cells the student deleted; drop grade metadata nbgrader doesn't know."""
    import nbformat

    known = {c.name: c for c in gb.find_notebook(notebook, assignment).source_cells}
    grades = {c.name: c for c in gb.find_notebook(notebook, assignment).grade_cells}
    present = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        grade_id = meta.get("grade_id")
        if grade_id not in known:
            cell.metadata.pop("nbgrader", None)  # a cell the student marked up themselves
        else:
            present.append(grade_id)
    missing = [name for name in known if name not in present]
    if not missing:
        return []
    order = []
    if template is not None and template.is_file():
        try:
            order = [
                c.metadata.get("nbgrader", {}).get("grade_id")
                for c in nbformat.read(template, as_version=4).cells
            ]
        except Exception:  # noqa: BLE001 - only used to place cells; without it they go at the end
            order = []
    for name in missing:
        source = known[name]
        meta = {"grade_id": name, "locked": bool(source.locked), "schema_version": 3}
        solution = not source.locked
        grade = grades.get(name)
        meta.update(solution=solution, grade=grade is not None)
        if grade is not None:
            meta["points"] = grade.max_score
        if source.checksum:
            meta["checksum"] = source.checksum
        if source.cell_type == "code":
            cell = nbformat.v4.new_code_cell(source.source if not solution else "")
        else:
            cell = nbformat.v4.new_markdown_cell(source.source if not solution else "")
        cell.metadata["nbgrader"] = meta
        position = len(nb.cells)
        if name in order:
            before = order[: order.index(name)]
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
            for previous in reversed(before):
                if previous in ids:
                    position = ids.index(previous) + 1
                    break
            else:
                position = 0
        nb.cells.insert(position, cell)
    return missing


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


def execute_timeout(root: Path) -> float | None:
    """``c.Execute.timeout`` from the course's ``nbgrader_config.py`` (seconds per cell), if set."""
    value = config(root).get("Execute", {}).get("timeout")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def save_scores(coursedir, assignment: str, student: str, name: str, nb) -> None:
    """nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties`` on a graded notebook."""
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    res = resources(coursedir, assignment, student, name)
    nb, res = SaveAutoGrades(config=coursedir.config).preprocess(nb, res)
    AssignLatePenalties(config=coursedir.config).preprocess(nb, res)


def zero_scores(coursedir, assignment: str, student: str, name: str) -> None:
    """Every automatic score of one notebook set to 0 (a missing or unreadable notebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for grade in gb.find_submission_notebook(name, assignment, student).grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def submission_score(coursedir, assignment: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return submission.score, submission.max_score


def assignment_scores(coursedir, assignment: str) -> dict[str, tuple[float, float]]:
    """Each student's (score, max score) for ``assignment``, as the gradebook has it (manual grades and
    late penalties included)."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def assignment_exists(coursedir, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    prefix = "sqlite:///"
    if coursedir.db_url.startswith(prefix) and not Path(coursedir.db_url[len(prefix) :]).is_file():
        return False  # no gradebook yet: opening one would create it, empty, in a folder that is no class
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def gradebook(coursedir):
    from nbgrader.api import Gradebook

    return Gradebook(coursedir.db_url, coursedir.course_id)


def register_submission(gb, coursedir, assignment: str, student: str, folder: Path) -> list[str]:
    """Record the submission (with its ``timestamp.txt``) and return the assignment's notebook names."""
    timestamp = coursedir.get_existing_timestamp(str(folder))
    names = [n.name for n in gb.find_assignment(assignment).notebooks]
    gb.update_or_create_student(student)
    if timestamp:
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(assignment, student)
    return names


def prepare_notebook(nb, gb, coursedir, assignment: str, student: str, name: str, template: Path):
    """A submitted notebook as nbgrader's autograde would run it: the gradebook's grade metadata, nbgrader's
    own sanitizing preprocessors, and deleted graded or locked cells put back. Returns it and the ids of
    the cells put back."""
    res = resources(coursedir, assignment, student, name)
    canonical_marks(nb, gb, name, assignment)
    nb = sanitize(nb, coursedir, res)
    restored = restore_cells(nb, gb, name, assignment, template)
    return nb, restored


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
