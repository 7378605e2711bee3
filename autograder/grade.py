"""``course grade``: grade every submission of an assignment, isolated, judged outside, in parallel.

nbgrader stays the bookkeeper. For each student this module, in the instructor's process:

1. registers the submission in the gradebook (``update_or_create_submission``, with its timestamp);
2. reads each notebook the gradebook lists (a missing one scores 0; a lone renamed one is graded in its
   place, and the feedback says so; an unreadable one scores 0 with the reason) and sanitizes it with
   nbgrader's own preprocessors (``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
   ``OverwriteCells``, ``CheckCellMetadata``), then puts back graded cells the student deleted and drops
   grade metadata the gradebook does not know;
3. hands the notebooks to a pool of processes, or to a Dask cluster, that run them with
   :func:`autograder.judge.run_notebook` (student cells in the sandbox, tests here);
4. as each student finishes, writes the graded notebooks to ``autograded/`` (for formgrader and the
   feedback) and stores the scores with nbgrader's ``SaveAutoGrades`` and ``AssignLatePenalties``,
   which set only automatic scores: manual grades are never overwritten;
5. records the result, with a fingerprint of what was graded, in ``course_results/<assignment>/``,
   last, so a run killed half-way is finished by the next run, and an unchanged submission is not
   graded again (``--force`` regrades everything).

A submission whose grading fails inside the grader itself is reported and keeps its previous grades;
the other students are graded regardless.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .judge import grade_task, warm_up
from .messages import render
from .sandbox import Limits, check_sandbox

RESULTS = "course_results"
MAX_FILES_BYTES = 200 << 20


class GradeError(Exception):
    """A problem with the whole run (not one student's): its message is bilingual."""


@dataclass
class Options:
    jobs: int = 0  # 0: every core
    scheduler: str | None = None  # a Dask scheduler address
    sandbox: bool = True
    force: bool = False
    students: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    progress: bool = True


# ------------------------------------------------------------------------------------- nbgrader side


def _config(root: Path):
    from traitlets.config.loader import Config, PyFileConfigLoader

    config = Config()
    path = root / "nbgrader_config.py"
    if path.is_file():
        config.merge(PyFileConfigLoader(path.name, path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    return config


def _coursedir(root: Path):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=_config(root))


def _resources(coursedir, assignment: str, student: str, notebook: str) -> dict:
    return {
        "nbgrader": {
            "notebook": notebook,
            "assignment": assignment,
            "student": student,
            "db_url": coursedir.db_url,
        },
        "metadata": {"path": ""},
    }


def _canonical_marks(nb, gb, notebook: str, assignment: str) -> None:
    """Grade metadata as the gradebook knows it: unknown grade ids dropped, known ones rewritten whole.

    A student can add, alter or break cell metadata; nbgrader's ``CheckCellMetadata`` would then refuse
    the notebook. What a cell is (answer, test, locked) is decided by the gradebook, not by the file.
    """
    source = gb.find_notebook(notebook, assignment)
    known = {c.name: c for c in source.source_cells}
    grades = {c.name: c.max_score for c in source.grade_cells}
    solutions = {c.name for c in source.solution_cells}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id not in known:
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


def _sanitize(nb, coursedir, resources: dict):
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


def _restore_cells(nb, gb, notebook: str, assignment: str, template: Path | None) -> list[str]:
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


def _find_notebooks(folder: Path, expected: list[str]) -> tuple[dict[str, Path | None], list[str]]:
    """Each expected notebook's file; a lone unexpected notebook stands in for a lone missing one."""
    found = {name: (folder / f"{name}.ipynb") for name in expected}
    found = {name: (path if path.is_file() else None) for name, path in found.items()}
    notes = []
    missing = [name for name, path in found.items() if path is None]
    extra = sorted(p for p in folder.glob("*.ipynb") if p.stem not in expected and not p.name.startswith("."))
    if len(missing) == 1 and len(extra) == 1:
        found[missing[0]] = extra[0]
        notes.append(render("grade_renamed_notebook", notebook=f"{missing[0]}.ipynb", found=extra[0].name))
    return found, notes


def _fingerprint(folder: Path, prepared: dict) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    digest.update(json.dumps(prepared, sort_keys=True).encode())
    return digest.hexdigest()


def _files(folder: Path) -> dict[str, bytes]:
    files, total = {}, 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            if total > MAX_FILES_BYTES:
                break
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files


# --------------------------------------------------------------------------------- the grading task


# ---------------------------------------------------------------------------------------- the class


class Grader:
    def __init__(self, root: Path, assignment: str, options: Options) -> None:
        self.root = Path(root)
        self.assignment = assignment
        self.options = options
        self.coursedir = _coursedir(self.root)
        self.results_dir = self.root / RESULTS / assignment
        self._pool: futures.ProcessPoolExecutor | None = None

    # -------------------------------------------------------------------------------- preparation

    def submissions(self) -> list[str]:
        folder = self.root / "submitted"
        students = sorted(p.parent.name for p in folder.glob(f"*/{self.assignment}") if p.is_dir())
        if self.options.students:
            students = [s for s in students if s in self.options.students]
        if not students:
            raise GradeError(render("grade_no_submissions", assignment=self.assignment))
        return students

    def prepare(self, student: str) -> tuple[dict | None, dict]:
        """The task for ``student`` (None when there is nothing to run) and what is known already."""
        import nbformat
        from nbgrader.api import Gradebook

        folder = self.root / "submitted" / student / self.assignment
        record: dict = {"student": student, "notes": [], "notebooks": {}}
        timestamp = self.coursedir.get_existing_timestamp(str(folder))
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            names = [n.name for n in gb.find_assignment(self.assignment).notebooks]
            gb.update_or_create_student(student)
            if timestamp:
                gb.update_or_create_submission(self.assignment, student, timestamp=timestamp)
            else:
                gb.update_or_create_submission(self.assignment, student)
            paths, notes = _find_notebooks(folder, names)
            record["notes"] += notes
            prepared = {}
            for name in names:
                path = paths[name]
                if path is None:
                    record["notebooks"][name] = {
                        "zero": render("grade_missing_notebook", notebook=f"{name}.ipynb")
                    }
                    continue
                try:
                    nb = nbformat.read(path, as_version=4)
                    if not nb.cells:
                        raise ValueError("no cells")
                except Exception as error:  # noqa: BLE001 - any unreadable file is this student's zero
                    problem = f"{type(error).__name__}: {str(error)[:200]}"
                    record["notebooks"][name] = {
                        "zero": render("grade_unreadable_notebook", notebook=path.name, problem=problem)
                    }
                    continue
                ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells]
                dupes = sorted({i for i in ids if i and ids.count(i) > 1})
                resources = _resources(self.coursedir, self.assignment, student, name)
                _canonical_marks(nb, gb, name, self.assignment)
                nb = _sanitize(nb, self.coursedir, resources)
                template = self.root / "source" / self.assignment / f"{name}.ipynb"
                restored = _restore_cells(nb, gb, name, self.assignment, template)
                if dupes:
                    record["notes"].append(render("grade_duplicate_cells", cells=", ".join(dupes)))
                if restored:
                    record["notes"].append(render("grade_restored_cells", cells=", ".join(restored)))
                prepared[name] = nb
        record["fingerprint"] = _fingerprint(folder, {k: v for k, v in prepared.items()})
        if not prepared:
            return None, record
        task = {
            "student": student,
            "notebooks": {k: dict(v) for k, v in prepared.items()},
            "files": {k: v for k, v in _files(folder).items() if not k.endswith(".ipynb")},
            "sandbox": self.options.sandbox,
            "limits": self.options.limits.__dict__,
        }
        return task, record

    def up_to_date(self, student: str, record: dict) -> bool:
        path = self.results_dir / f"{student}.json"
        if self.options.force or not path.is_file():
            return False
        try:
            return json.loads(path.read_text())["fingerprint"] == record["fingerprint"]
        except (ValueError, KeyError, OSError):
            return False

    # ----------------------------------------------------------------------------------- recording

    def record(self, record: dict, outcome: dict | None) -> None:
        """Write one student's graded notebooks and scores: autograded/, the gradebook, then the result."""
        import nbformat
        from nbgrader.api import Gradebook
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

        student = record["student"]
        target = Path(
            self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment)
        )
        staging = Path(tempfile.mkdtemp(prefix=".grading-", dir=self.root))
        try:
            graded = (outcome or {}).get("notebooks", {})
            for name, result in graded.items():
                nb = nbformat.from_dict(result["notebook"])
                nbformat.write(nb, staging / f"{name}.ipynb")
                record["notebooks"][name] = {"cells": result["cells"]}
            record["notes"] += (outcome or {}).get("notes", [])
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        config = self.coursedir.config
        for name, entry in record["notebooks"].items():
            resources = _resources(self.coursedir, self.assignment, student, name)
            if "zero" in entry:
                with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                    for grade in gb.find_submission_notebook(name, self.assignment, student).grades:
                        grade.auto_score = 0
                        grade.needs_manual_grade = False
                    gb.db.commit()
                continue
            nb = nbformat.read(target / f"{name}.ipynb", as_version=4)
            nb, resources = SaveAutoGrades(config=config).preprocess(nb, resources)
            nb, resources = AssignLatePenalties(config=config).preprocess(nb, resources)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            submission = gb.find_submission(self.assignment, student)
            record["score"], record["max_score"] = submission.score, submission.max_score
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{student}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, path)

    # ---------------------------------------------------------------------------------------- run

    def run(self) -> dict:
        try:
            return self._run()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> dict:
        import warnings

        from nbgrader.api import Gradebook, MissingEntry
        from sqlalchemy.exc import SAWarning

        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.filterwarnings("ignore", category=SAWarning)

        started = time.monotonic()
        self._pool = self._start_pool()  # its processes load torch while this one prepares
        if self.options.sandbox:
            problem = check_sandbox()
            if problem:
                raise GradeError(render("grade_no_sandbox", problem=problem))
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                gb.find_assignment(self.assignment)
            except MissingEntry:
                raise GradeError(render("grade_not_generated", assignment=self.assignment)) from None
        students = self.submissions()
        summary = {"graded": [], "skipped": [], "failed": {}}
        records: dict[str, dict] = {}

        def tasks():
            # prepared one by one while earlier submissions already run
            for student in students:
                try:
                    task, record = self.prepare(student)
                except Exception as error:  # noqa: BLE001 - one student's problem stops only that student
                    summary["failed"][student] = f"{type(error).__name__}: {error}"
                    continue
                records[student] = record
                if self.up_to_date(student, record):
                    summary["skipped"].append(student)
                elif task is None:
                    self._finish(record, None, summary)
                else:
                    yield task

        progress = Progress(len(students), enabled=self.options.progress)
        for student, outcome, error in self._execute(tasks()):
            progress.step(student)
            if error is not None:
                summary["failed"][student] = error
                continue
            self._finish(records[student], outcome, summary)
        progress.close()
        summary["seconds"] = time.monotonic() - started
        return summary

    def _finish(self, record: dict, outcome: dict | None, summary: dict) -> None:
        student = record["student"]
        try:
            self.record(record, outcome)
            summary["graded"].append(student)
        except Exception as error:  # noqa: BLE001
            summary["failed"][student] = f"{type(error).__name__}: {error}"

    def _start_pool(self) -> futures.ProcessPoolExecutor | None:
        if self.options.scheduler:
            return None
        jobs = self.options.jobs or os.cpu_count() or 1
        context = multiprocessing.get_context("spawn")
        pool = futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=warm_up)
        for _ in range(jobs):
            pool.submit(int)  # start every process now, not when the first submissions are ready
        return pool

    def _execute(self, tasks):
        """Yield (student, outcome, error) as submissions finish, on local cores or a Dask cluster."""
        if self.options.scheduler:
            try:
                from distributed import Client, as_completed
            except ImportError:
                raise GradeError(render("grade_no_dask")) from None

            with Client(self.options.scheduler, timeout="30s") as client:
                running = as_completed()
                students = {}
                for task in tasks:
                    future = client.submit(grade_task, task, pure=False)
                    students[future.key] = task["student"]
                    running.add(future)
                for future in running:
                    student = students[future.key]
                    try:
                        yield student, future.result(), None
                    except Exception as error:  # noqa: BLE001
                        yield student, None, f"{type(error).__name__}: {error}"
            return
        jobs = self.options.jobs or os.cpu_count() or 1
        pool = self._pool or self._start_pool()
        with pool:
            running: dict = {}
            pending = iter(tasks)
            exhausted = False
            while running or not exhausted:
                # keep a few more tasks queued than there are workers, preparing them as others run
                while not exhausted and len(running) < 2 * jobs:
                    task = next(pending, None)
                    if task is None:
                        exhausted = True
                        break
                    running[pool.submit(grade_task, task)] = task["student"]
                if not running:
                    break
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    student = running.pop(future)
                    try:
                        yield student, future.result(), None
                    except Exception as error:  # noqa: BLE001 - a broken pool process fails only its student
                        yield student, None, f"{type(error).__name__}: {error}"


class Progress:
    """A progress bar on stderr (a line per submission when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        bar = "█" * filled + "·" * (width - filled)
        line = f"[{bar}] {self.done}/{self.total} {time.monotonic() - self.started:5.1f}s {label}"
        if self.tty:
            sys.stderr.write("\r" + line[:120].ljust(120))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
