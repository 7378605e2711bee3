"""The grading pipeline as data: each preparation step on its own, the typed process boundary, paths
from nbgrader's ``CourseDirectory``, staged writes and the hidden-test markers of the configuration.

The steps run in this process on a real class (nbgrader's gradebook, generated once per run), without
the sandbox: what each step does to a submission is checked right after that step.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder.grading import nbgrader_api
from autograder.grading.cells import HIDDEN_BEGIN, Markers, nbgrader_meta, segments
from autograder.grading.folders import staged_folder, write_files, write_text
from autograder.grading.paths import CoursePaths
from autograder.grading.preparation import STEPS, Step, Submission, prepare
from autograder.grading.records import CellResult
from autograder.grading.runner import Node
from autograder.grading.sandbox import Limits
from autograder.grading.tasks import GradedNotebook, Outcome, RunSummary, Task, VersionMismatch
from tests.classes import answered, new_class, submit

pytestmark = pytest.mark.nbgrader  # a generated class: nbgrader's gradebook

ASSIGNMENT = "unit01"


@pytest.fixture()
def class_dir(tmp_path, class_cache) -> Path:
    return new_class(tmp_path / "class", [ASSIGNMENT], class_cache)


def steps_until(name: str) -> list[Step]:
    names = [s.name for s in STEPS]
    return STEPS[: names.index(name) + 1]


def prepared(class_dir: Path, student: str, until: str = "fingerprint") -> Submission:
    coursedir = nbgrader_api.coursedir(class_dir)
    with nbgrader_api.gradebook(coursedir) as gb:
        return prepare(Submission(student, ASSIGNMENT, coursedir, gb), steps_until(until))


def grade_ids(nb) -> list[str]:
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c).get("grade_id")]


def test_the_steps_are_one_ordered_list_of_named_steps():
    assert [s.name for s in STEPS] == [
        "register",
        "find_notebooks",
        "read",
        "find_duplicates",
        "canonical_metadata",
        "sanitize",
        "restore_cells",
        "lay_in_files",
        "fingerprint",
    ]
    assert len({s.run for s in STEPS}) == len(STEPS)


def test_register_records_the_submission_and_its_timestamp(class_dir):
    folder = submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT)})
    (folder / "timestamp.txt").write_text("2026-11-30 10:00:00.000000 UTC")
    s = prepared(class_dir, "ann", "register")
    assert s.names == ["exercises"] and not s.notebooks
    with nbgrader_api.gradebook(nbgrader_api.coursedir(class_dir)) as gb:
        stamp = gb.find_submission(ASSIGNMENT, "ann").timestamp
    assert (stamp.year, stamp.month, stamp.day, stamp.hour) == (2026, 11, 30, 10)


def test_find_notebooks_takes_a_lone_renamed_notebook_and_says_so(class_dir):
    submit(class_dir, "ann", ASSIGNMENT, {"exercises (1).ipynb": answered(ASSIGNMENT)})
    s = prepared(class_dir, "ann", "find_notebooks")
    assert s.found["exercises"].name == "exercises (1).ipynb"
    assert any("exercises (1).ipynb" in note for note in s.result.notes)
    # two stray notebooks: neither is guessed
    submit(class_dir, "bob", ASSIGNMENT, {"a.ipynb": answered(ASSIGNMENT), "b.ipynb": answered(ASSIGNMENT)})
    assert prepared(class_dir, "bob", "find_notebooks").found == {"exercises": None}


def test_read_zeroes_a_missing_or_unreadable_notebook_with_the_reason(class_dir):
    submit(class_dir, "ann", ASSIGNMENT, {"notes.txt": "no notebook"})
    submit(class_dir, "bob", ASSIGNMENT, {"exercises.ipynb": "{ not json"})
    missing, broken = prepared(class_dir, "ann", "read"), prepared(class_dir, "bob", "read")
    assert not missing.notebooks and "exercises.ipynb" in missing.result.notebooks["exercises"].zero
    assert not broken.notebooks and "NotJSONError" in broken.result.notebooks["exercises"].zero


def test_find_duplicates_names_a_grade_id_held_twice(class_dir):
    nb = answered(ASSIGNMENT)
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "test_diamond_backward")
    nb.cells.append(copy.deepcopy(test))
    submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": nb})
    s = prepared(class_dir, "ann", "find_duplicates")
    assert s.duplicates == {"exercises": ["test_diamond_backward"]}
    assert any("test_diamond_backward" in n for n in s.result.notes)


def test_canonical_metadata_is_the_gradebooks(class_dir):
    nb = answered(ASSIGNMENT)
    answer = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "diamond_backward")
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "test_diamond_backward")
    test.metadata["nbgrader"]["points"] = 100  # a student's raise
    answer.metadata["nbgrader"]["grade"] = True
    nb.cells.append(
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "mine", "grade": True}})
    )
    submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": nb})
    got = prepared(class_dir, "ann", "canonical_metadata").notebooks["exercises"]
    cells = {nbgrader_meta(c).get("grade_id"): c for c in got.cells}
    assert cells["test_diamond_backward"].metadata["nbgrader"]["points"] == 3
    assert cells["diamond_backward"].metadata["nbgrader"]["grade"] is False
    assert "mine" not in cells and got.cells[-1].source == "x = 1"


def test_sanitize_runs_nbgraders_preprocessors(class_dir):
    nb = answered(ASSIGNMENT)
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "test_diamond_backward")
    test.source = "pass  # the student's test"
    test.outputs = [nbformat.v4.new_output("stream", text="old output")]
    submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": nb})
    got = prepared(class_dir, "ann", "sanitize").notebooks["exercises"]
    cell = next(c for c in got.cells if nbgrader_meta(c).get("grade_id") == "test_diamond_backward")
    assert cell.source != "pass  # the student's test" and HIDDEN_BEGIN in cell.source  # OverwriteCells
    assert all(not c.get("outputs") for c in got.cells if c.cell_type == "code")  # ClearOutput


def test_restore_cells_puts_deleted_tests_back_in_place(class_dir):
    nb = answered(ASSIGNMENT)
    order = grade_ids(nb)
    nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != "test_diamond_backward"]
    submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": nb})
    s = prepared(class_dir, "ann", "restore_cells")
    assert grade_ids(s.notebooks["exercises"]) == order
    assert any("test_diamond_backward" in n for n in s.result.notes)


def test_lay_in_files_lays_the_sources_files_over_the_students(class_dir):
    data = class_dir / "source" / ASSIGNMENT / "data"
    data.mkdir()
    (data / "points.csv").write_text("x,y\n1,2\n")
    folder = submit(
        class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT), "mine.txt": "notes"}
    )
    (folder / "data").mkdir()
    (folder / "data" / "points.csv").write_text("edited")
    got = prepared(class_dir, "ann", "lay_in_files").files
    assert got["data/points.csv"] == b"x,y\n1,2\n" and got["mine.txt"] == b"notes"
    assert not [name for name in got if name.endswith(".ipynb")]


def test_fingerprint_changes_with_what_is_graded_only(class_dir):
    submit(class_dir, "ann", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT)})
    submit(class_dir, "bob", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT)})
    submit(class_dir, "eve", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT, answers="none")})
    ann, bob, eve = (prepared(class_dir, s).result.fingerprint for s in ("ann", "bob", "eve"))
    assert ann == bob != eve and len(ann) == 64


def test_paths_follow_a_configured_directory_structure(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.submitted_directory = 'handed-in'\n"
        "c.CourseDirectory.autograded_directory = 'marked'\n"
    )
    paths = CoursePaths(nbgrader_api.coursedir(tmp_path))
    for student in ("ann", "bob"):
        (tmp_path / "handed-in" / student / ASSIGNMENT).mkdir(parents=True)
    (tmp_path / "handed-in" / "cat" / "unit02").mkdir(parents=True)
    (tmp_path / "submitted" / "dan" / ASSIGNMENT).mkdir(parents=True)  # not the configured folder
    assert paths.submitting_students(ASSIGNMENT) == ["ann", "bob"]
    assert paths.autograded("ann", ASSIGNMENT) == tmp_path / "marked" / "ann" / ASSIGNMENT
    assert paths.results(ASSIGNMENT) == tmp_path / "course_results" / ASSIGNMENT


def test_a_staged_folder_replaces_its_target_whole_or_not_at_all(tmp_path):
    target = tmp_path / "graded"
    with staged_folder(target) as staging:
        write_files(staging, {"a.txt": b"1", "sub/b.txt": b"2", "../escape.txt": b"no"})
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*.txt")) == ["a.txt", "sub/b.txt"]
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(RuntimeError), staged_folder(target) as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("killed half-way")
    assert (target / "a.txt").read_bytes() == b"1" and not (target / "half.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["graded"]  # no staging left behind
    write_text(tmp_path / "result.json", "{}")
    assert (tmp_path / "result.json").read_text() == "{}" and len(os.listdir(tmp_path)) == 2


def test_the_process_boundary_is_typed_plain_and_versioned():
    task = Task("ann", {"exercises": {"cells": []}}, {"a.txt": b"1"}, limits=Limits(cell_seconds=5.0))
    data = task.as_dict()
    assert data["version"] == 1 and data["kind"] == "task" and data["limits"]["cell_seconds"] == 5.0
    assert Task.from_dict(data) == task
    with pytest.raises(VersionMismatch):
        Task.from_dict({**data, "version": 0})
    with pytest.raises(VersionMismatch):
        Outcome.from_dict(data)  # a task is no outcome
    cell = CellResult("test_a", False, ["wrong sign"], score=0.5)
    outcome = Outcome("ann", {"exercises": GradedNotebook(Node.wrap({"cells": []}), [cell])}, ["note"])
    plain = json.loads(json.dumps(outcome.as_dict()))  # nothing in it but plain data
    assert Outcome.from_dict(plain) == outcome
    summary = RunSummary(graded=["ann"], failed={"bob": "OSError: disk"}, seconds=1.5)
    assert RunSummary.from_dict(json.loads(json.dumps(summary.as_dict()))) == summary


def test_hidden_test_markers_come_from_the_configuration(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.ClearHiddenTests.begin_test_delimeter = 'SECRET START'\n"
        "c.ClearHiddenTests.end_test_delimeter = 'SECRET STOP'\n"
    )
    markers = Markers.from_config(nbgrader_api.coursedir(tmp_path).config)
    assert markers == Markers("SECRET START", "SECRET STOP")
    code = "a = 1\n# SECRET START\nb = 2\n# SECRET STOP\nc = 3"
    assert segments(code, markers) == [(False, "a = 1"), (True, "b = 2"), (False, "c = 3")]
    assert segments(code) == [(False, code)]  # nbgrader's default delimiters are not in it
    assert Markers.from_config(nbgrader_api.coursedir(tmp_path / "none").config) == Markers()
