"""How a submission is prepared for grading, as one ordered list of named steps (as nbgrader gives its
converters a list of preprocessors).

Each step takes the :class:`Submission` being prepared and changes it; :func:`prepare` runs
:data:`STEPS` in order. After them the submission's notebooks are what nbgrader's ``autograde`` would
run, its files are laid out as ``autograde`` lays them, and its result already holds the zero scores
(a missing or unreadable notebook) and the notes for the feedback (a renamed notebook, duplicated or
restored cells). Partial credit is not prepared: a test cell earns it when it runs (its value, see
:mod:`.judge`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..messages import render
from .nbgrader_api import books
from .nbgrader_api import files as nbfiles
from .paths import CoursePaths
from .records import NotebookResult, StudentResult
from .text import problem_of

MAX_FILES_BYTES = 200 << 20  # a submission's files beside its notebooks, at most


@dataclass
class Submission:
    """One student's submission while it is prepared."""

    student: str
    assignment: str
    coursedir: object  # nbgrader's CourseDirectory
    gb: object  # an open nbgrader Gradebook
    names: list[str] = field(default_factory=list)  # the assignment's notebooks, as the gradebook lists them
    found: dict[str, Path | None] = field(default_factory=dict)  # each notebook's file, if any
    notebooks: dict[str, object] = field(default_factory=dict)  # name → notebook, as prepared so far
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # name → grade ids found twice
    files: dict[str, bytes] = field(default_factory=dict)
    result: StudentResult = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.result is None:
            self.result = StudentResult(self.student)

    @property
    def paths(self) -> CoursePaths:
        return CoursePaths(self.coursedir)

    @property
    def folder(self) -> Path:
        return self.paths.submitted(self.student, self.assignment)

    def resources(self, name: str) -> dict:
        return books.resources(self.coursedir, self.assignment, self.student, name)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Submission], None]


def _grade_id(cell) -> str | None:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


# --------------------------------------------------------------------------------------- the steps


def register(s: Submission) -> None:
    """The submission in the gradebook (with its ``timestamp.txt``), and the notebooks it should hold."""
    s.names = books.register_submission(s.gb, s.coursedir, s.assignment, s.student, s.folder)


def find_notebooks(s: Submission) -> None:
    """Each expected notebook's file; a lone unexpected notebook stands in for a lone missing one, and
    the feedback says so."""
    folder = s.folder
    found = {name: folder / f"{name}.ipynb" for name in s.names}
    found = {name: (path if path.is_file() else None) for name, path in found.items()}
    missing = [name for name, path in found.items() if path is None]
    extra = sorted(p for p in folder.glob("*.ipynb") if p.stem not in s.names and not p.name.startswith("."))
    if len(missing) == 1 and len(extra) == 1:
        found[missing[0]] = extra[0]
        s.result.notes.append(
            render("grade_renamed_notebook", notebook=f"{missing[0]}.ipynb", found=extra[0].name)
        )
    s.found = found


def read(s: Submission) -> None:
    """Each notebook read; a missing or unreadable one scores 0, with the reason."""
    import nbformat

    for name in s.names:
        path = s.found.get(name)
        if path is None:
            s.result.notebooks[name] = NotebookResult(
                zero=render("grade_missing_notebook", notebook=f"{name}.ipynb")
            )
            continue
        try:
            nb = nbformat.read(path, as_version=4)
            if not nb.cells:
                raise ValueError("no cells")
        except Exception as error:  # noqa: BLE001 - any unreadable file is this student's zero
            unreadable = render("grade_unreadable_notebook", notebook=path.name, problem=problem_of(error))
            s.result.notebooks[name] = NotebookResult(zero=unreadable)
            continue
        s.notebooks[name] = nb


def find_duplicates(s: Submission) -> None:
    """Grade ids that a notebook holds twice (nbgrader's ``DeduplicateIds`` keeps the first)."""
    for name, nb in s.notebooks.items():
        ids = [_grade_id(c) for c in nb.cells]
        dupes = sorted({i for i in ids if i and ids.count(i) > 1})
        if dupes:
            s.duplicates[name] = dupes
            s.result.notes.append(render("grade_duplicate_cells", cells=", ".join(dupes)))


def canonical_metadata(s: Submission) -> None:
    """Grade metadata as the gradebook knows it: unknown grade ids dropped, known ones rewritten whole.

    A student can add, alter or break cell metadata; nbgrader's ``CheckCellMetadata`` would then refuse
    the notebook. What a cell is (answer, test, locked) is decided by the gradebook, not by the file."""
    from nbformat import NotebookNode

    for name, nb in s.notebooks.items():
        source = s.gb.find_notebook(name, s.assignment)
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
            if cell.cell_type != known[grade_id].cell_type:
                cell.metadata.pop(
                    "nbgrader", None
                )  # a student's cell of another type; the original is restored
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
            cell.metadata["nbgrader"] = canonical


def sanitize(s: Submission) -> None:
    """nbgrader's own preprocessors, as ``autograde`` runs them: outputs cleared, duplicated ids removed,
    the kernelspec and the instructor's cells overwritten from the gradebook, the metadata checked."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    config = s.coursedir.config
    for name in list(s.notebooks):
        nb, resources = s.notebooks[name], s.resources(name)
        for kind in (ClearOutput, DeduplicateIds):
            nb, resources = kind(config=config).preprocess(nb, resources)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]  # DeduplicateIds empties the metadata of a repeated cell
        for kind in (OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            nb, resources = kind(config=config).preprocess(nb, resources)
        s.notebooks[name] = nb


def restore_cells(s: Submission) -> None:
    """Graded and locked cells the student deleted, put back where the source has them (the feedback
    says which); grade metadata nbgrader does not know, dropped."""
    import nbformat

    for name, nb in s.notebooks.items():
        notebook = s.gb.find_notebook(name, s.assignment)
        known = {c.name: c for c in notebook.source_cells}
        grades = {c.name: c for c in notebook.grade_cells}
        present = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if not meta:
                continue
            if meta.get("grade_id") not in known:
                cell.metadata.pop("nbgrader", None)  # a cell the student marked up themselves
            else:
                present.append(meta["grade_id"])
        missing = [grade_id for grade_id in known if grade_id not in present]
        if not missing:
            continue
        template = s.paths.source(s.assignment) / f"{name}.ipynb"
        order = []
        if template.is_file():
            try:
                order = [_grade_id(c) for c in nbformat.read(template, as_version=4).cells]
            except Exception:  # noqa: BLE001 - only used to place cells; without it they go at the end
                order = []
        for grade_id in missing:
            source = known[grade_id]
            meta = {"grade_id": grade_id, "locked": bool(source.locked), "schema_version": 3}
            solution = not source.locked
            grade = grades.get(grade_id)
            meta.update(solution=solution, grade=grade is not None)
            if grade is not None:
                meta["points"] = grade.max_score
            if source.checksum:
                meta["checksum"] = source.checksum
            new = nbformat.v4.new_code_cell if source.cell_type == "code" else nbformat.v4.new_markdown_cell
            cell = new(source.source if not solution else "")
            cell.metadata["nbgrader"] = meta
            position = len(nb.cells)
            if grade_id in order:
                ids = [_grade_id(c) for c in nb.cells]
                for previous in reversed(order[: order.index(grade_id)]):
                    if previous in ids:
                        position = ids.index(previous) + 1
                        break
                else:
                    position = 0
            nb.cells.insert(position, cell)
        s.result.notes.append(render("grade_restored_cells", cells=", ".join(missing)))


def lay_in_files(s: Submission) -> None:
    """The submission's other files with the source folder's laid over them, as ``autograde`` does."""
    s.files = nbfiles.submission_files(s.coursedir, s.assignment, s.folder, MAX_FILES_BYTES)


def fingerprint(s: Submission) -> None:
    """A digest of what will be graded: an unchanged submission is not graded again."""
    digest = hashlib.sha256()
    for rel in sorted(s.files):
        digest.update(rel.encode())
        digest.update(s.files[rel])
    digest.update(json.dumps({k: dict(v) for k, v in s.notebooks.items()}, sort_keys=True).encode())
    s.result.fingerprint = digest.hexdigest()


STEPS: list[Step] = [
    Step("register", register),
    Step("find_notebooks", find_notebooks),
    Step("read", read),
    Step("find_duplicates", find_duplicates),
    Step("canonical_metadata", canonical_metadata),
    Step("sanitize", sanitize),
    Step("restore_cells", restore_cells),
    Step("lay_in_files", lay_in_files),
    Step("fingerprint", fingerprint),
]


def prepare(submission: Submission, steps: list[Step] = STEPS) -> Submission:
    for step in steps:
        step.run(submission)
    return submission
