"""``course grade``: grade every submission of an assignment, isolated, judged outside, in parallel.

nbgrader stays the bookkeeper. For each student this module, in the instructor's process:

1. prepares it with the ordered steps of :data:`autograder.grading.preparation.STEPS`: registered in the
   gradebook (with its timestamp), each notebook the gradebook lists found (a lone renamed one graded in
   its place) and read (a missing or unreadable one scores 0, with the reason), its grade metadata made
   the gradebook's, sanitized by nbgrader's own preprocessors, deleted graded cells put back, the
   source's files laid over the submission's, and a fingerprint of all that taken;
2. hands it as a :class:`~autograder.grading.tasks.Task` (plain, versioned data) to a pool of processes,
   or to a Dask cluster, where :func:`autograder.grading.runner.grade_task` runs each notebook with
3. hands the notebooks to a pool of processes, or to a Dask cluster, that run them with
   :func:`autograder.grading.judge.run_notebook` (student cells in the sandbox, tests here) and sends
   back an :class:`~autograder.grading.tasks.Outcome`;
3. as each student finishes, writes the graded notebooks to ``autograded/`` (for formgrader and the
   feedback) and stores the scores with nbgrader's ``SaveAutoGrades`` and ``AssignLatePenalties``,
   which set only automatic scores: manual grades are never overwritten;
4. records the result, with the fingerprint of what was graded, in ``course_results/<assignment>/``,
   last, so a run killed half-way is finished by the next run, and an unchanged submission is not
   graded again (``--force`` regrades everything).

A submission whose grading fails inside the grader itself is reported and keeps its previous grades;
the other students are graded regardless.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..messages import render
from . import nbgrader_api
from .cells import Markers
from .folders import staged_folder, write_files, write_text
from .paths import RESULTS, CoursePaths
from .preparation import Submission, prepare
from .records import NotebookResult, StudentResult
from .runner import grade_task, warm_up
from .sandbox import Limits, check_sandbox
from .tasks import Outcome, RunSummary, Task
from .text import problem_of

__all__ = ["RESULTS", "GradeError", "Grader", "Options", "score_table"]


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


# ---------------------------------------------------------------------------------------- the class


class Grader:
    def __init__(self, root: Path, assignment: str, options: Options) -> None:
        self.root = Path(root)
        self.assignment = assignment
        self.options = options
        self.coursedir = nbgrader_api.coursedir(self.root)
        self.paths = CoursePaths(self.coursedir)
        self.results_dir = self.paths.results(assignment)
        self.markers = Markers.from_config(self.coursedir.config)
        self._pool: futures.ProcessPoolExecutor | None = None

    # -------------------------------------------------------------------------------- preparation

    def submissions(self) -> list[str]:
        students = self.paths.submitting_students(self.assignment)
        if self.options.students:
            students = [s for s in students if s in self.options.students]
        if not students:
            raise GradeError(render("grade_no_submissions", assignment=self.assignment))
        return students

    def prepare(self, student: str) -> tuple[Task | None, StudentResult, dict[str, bytes]]:
        """The task for ``student`` (None when there is nothing to run), what is known already, and the
        submission's files with the source's laid over them (as nbgrader does): the steps of
        :data:`.preparation.STEPS`, in order."""
        with nbgrader_api.gradebook(self.coursedir) as gb:
            submission = prepare(Submission(student, self.assignment, self.coursedir, gb))
        result, files = submission.result, submission.files
        if not submission.notebooks:
            return None, result, files
        task = Task(
            student=student,
            notebooks={k: dict(v) for k, v in submission.notebooks.items()},
            files=files,
            sandbox=self.options.sandbox,
            limits=self.options.limits,
            markers=self.markers,
        )
        return task, result, files

    def up_to_date(self, student: str, result: StudentResult) -> bool:
        path = self.results_dir / f"{student}.json"
        if self.options.force or not path.is_file():
            return False
        try:
            return StudentResult.from_json(path.read_text(encoding="utf-8")).fingerprint == result.fingerprint
        except (ValueError, KeyError, TypeError, OSError):
            return False

    # ----------------------------------------------------------------------------------- recording

    def record(self, result: StudentResult, outcome: Outcome | None, files: dict[str, bytes]) -> None:
        """Write one student's graded folder and scores: autograded/, the gradebook, then the result.

        ``autograded/<student>/<assignment>/`` holds what stock ``nbgrader autograde`` leaves there: every
        file of the submission (``timestamp.txt`` included), the source's files laid over them, and the
        graded notebooks."""
        import nbformat

        student = result.student
        target = self.paths.autograded(student, self.assignment)
        with staged_folder(target) as staging:
            write_files(staging, files)
            for name, graded in (outcome.notebooks if outcome else {}).items():
                nbformat.write(nbformat.from_dict(graded.notebook), staging / f"{name}.ipynb")
                result.notebooks[name] = NotebookResult(cells=graded.cells)
            if outcome is not None:
                result.notes += outcome.notes
                result.instructor_notes += outcome.instructor_notes
            nbgrader_api.set_permissions(self.coursedir, staging, "Autograde")
        for name, entry in result.notebooks.items():
            if entry.zero is not None:
                nbgrader_api.zero_scores(self.coursedir, self.assignment, student, name)
                continue
            nb = nbformat.read(target / f"{name}.ipynb", as_version=4)
            nbgrader_api.save_scores(self.coursedir, self.assignment, student, name, nb)
        result.score, result.max_score = nbgrader_api.submission_score(
            self.coursedir, self.assignment, student
        )
        write_text(self.results_dir / f"{student}.json", result.to_json())

    # ---------------------------------------------------------------------------------------- run

    def run(self) -> RunSummary:
        try:
            return self._run()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> RunSummary:
        import warnings

        from sqlalchemy.exc import SAWarning

        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.filterwarnings("ignore", category=SAWarning)

        started = time.monotonic()
        # what can be refused is refused before any worker starts: an error costs no warm-up
        if not nbgrader_api.assignment_exists(self.coursedir, self.assignment):
            raise GradeError(render("grade_not_generated", assignment=self.assignment))
        students = self.submissions()
        if self.options.sandbox:
            problem = check_sandbox()
            if problem:
                raise GradeError(render("grade_no_sandbox", problem=problem))
        # its processes load torch while this one prepares; no more of them than there are submissions
        self._pool = self._start_pool(len(students))
        summary = RunSummary()
        pending: dict[str, tuple[StudentResult, dict]] = {}  # prepared, not yet recorded

        def tasks():
            # prepared one by one while earlier submissions already run
            for student in students:
                try:
                    task, result, files = self.prepare(student)
                except Exception as error:  # noqa: BLE001 - one student's problem stops only that student
                    summary.failed[student] = problem_of(error)
                    continue
                if self.up_to_date(student, result):
                    summary.skipped.append(student)
                elif task is None:
                    self._finish(result, None, files, summary)
                else:
                    pending[student] = (result, files)
                    yield task.as_dict()

        progress = Progress(len(students), enabled=self.options.progress)
        for student, outcome, error in self._execute(tasks()):
            progress.step(student)
            result, files = pending.pop(student)
            if error is not None:
                summary.failed[student] = error
                continue
            try:
                graded = Outcome.from_dict(outcome)
            except (ValueError, KeyError, TypeError) as problem:
                summary.failed[student] = problem_of(problem)
                continue
            self._finish(result, graded, files, summary)
        progress.close()
        summary.seconds = time.monotonic() - started
        return summary

    def _finish(
        self, result: StudentResult, outcome: Outcome | None, files: dict, summary: RunSummary
    ) -> None:
        student = result.student
        try:
            self.record(result, outcome, files)
            summary.graded.append(student)
            for note in result.instructor_notes:
                summary.instructor.setdefault(note, []).append(student)
        except Exception as error:  # noqa: BLE001
            summary.failed[student] = problem_of(error)

    def _jobs(self, students: int | None = None) -> int:
        """Grading processes to start: one per core (or ``--jobs``), never more than the submissions."""
        jobs = self.options.jobs or os.cpu_count() or 1
        return max(1, min(jobs, students)) if students is not None else jobs

    def _start_pool(self, students: int | None = None) -> futures.ProcessPoolExecutor | None:
        if self.options.scheduler:
            return None
        jobs = self._jobs(students)
        context = multiprocessing.get_context("spawn")
        pool = futures.ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=context,
            initializer=warm_up,
            initargs=(self.options.limits, self.options.sandbox),
        )
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
        jobs = self._jobs()
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


# ----------------------------------------------------------------------------------------- the report

FULL_TABLE_ABOVE = 30  # more students than this: a summary on screen, the table in scores.csv


def score_table(root: Path, assignment: str, summary: RunSummary) -> tuple[list[tuple[str, str, str]], Path]:
    """One row per submission of this run (student, "score / max", status) and the CSV that holds them
    all, ``course_results/<assignment>/scores.csv``; scores are the gradebook's."""
    import csv

    coursedir = nbgrader_api.coursedir(Path(root))
    scores = nbgrader_api.assignment_scores(coursedir, assignment)
    status = {s: "graded" for s in summary.graded}
    status |= {s: "skipped" for s in summary.skipped}
    status |= {s: "failed" for s in summary.failed}
    rows = []
    for student in sorted(status):
        score, top = scores.get(student, (None, None))
        shown = f"{score:g} / {top:g}" if score is not None else "—"
        rows.append((student, shown, status[student]))
    path = CoursePaths(coursedir).results(assignment) / "scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "score", "max_score", "status"])
        for student in sorted(status):
            score, top = scores.get(student, (None, None))
            writer.writerow(
                [student, "" if score is None else score, "" if top is None else top, status[student]]
            )
    return rows, path


class Progress:
    """A progress bar on stderr (tqdm): submissions done, time taken, the last student finished."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        from tqdm import tqdm

        shown = enabled and total > 0
        self.bar = tqdm(total=total, disable=not shown, file=sys.stderr, unit="sub", ncols=100)

    def step(self, label: str) -> None:
        self.bar.set_postfix_str(label, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
