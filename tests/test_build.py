"""`course build` and `course build --check` on the real course: clean when fresh, loud when stale."""

import copy
import shutil

import nbformat
import pytest

from tests.classes import course


def course_cli(*args, root):
    return course("--root", str(root), *args, cwd=root)


@pytest.mark.nbgrader  # the releases are made by nbgrader generate_assignment
def test_committed_generated_files_are_fresh(course):
    done = course_cli("build", "--check", root=course.root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout


@pytest.mark.nbgrader  # the releases are made by nbgrader generate_assignment
def test_check_names_every_stale_file_and_build_repairs_them(scratch_course):
    root = scratch_course.root
    lecture = sorted((root / "notebooks" / "en").glob("*.ipynb"))[0]
    nb = nbformat.read(lecture, as_version=4)
    nb.cells[0].source += " (edited by hand)"
    nbformat.write(nb, lecture)
    figure = sorted((root / "img").glob("*.svg"))[0]
    figure.unlink()
    extra = root / "release" / "unit01" / "leftover.txt"
    extra.write_text("not made by the build")
    source = root / "source" / "unit01" / "exercises.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[1].source += " Good luck!"  # an edit to the source that the release has not seen
    nbformat.write(nb, source)
    release = root / "release" / "unit01" / "exercises.ipynb"

    done = course_cli("build", "--check", root=root)
    assert done.returncode == 1
    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    assert f"differs  {rel(lecture)}" in done.stdout
    assert f"missing  {rel(figure)}" in done.stdout
    assert f"extra    {rel(extra)}" in done.stdout
    assert f"differs  {rel(release)}" in done.stdout

    # the lecture edited by hand and the file no source makes are named and kept; the rest is rebuilt
    kept = course_cli("build", root=root)
    assert kept.returncode == 1, kept.stdout + kept.stderr
    assert f"  {rel(lecture)}" in kept.stdout and f"  {rel(extra)}" in kept.stdout, kept.stdout
    assert "(edited by hand)" in nbformat.read(lecture, as_version=4).cells[0].source and extra.is_file()
    assert figure.is_file() and "Good luck!" in release.read_text(encoding="utf-8")
    assert course_cli("build", "--force", root=root).returncode == 0
    again = course_cli("build", "--check", root=root)
    assert again.returncode == 0, again.stdout


def test_broken_pair_is_refused_with_the_file_named(scratch_course):
    root = scratch_course.root
    source = sorted((root / "notebooks" / "bilingual").glob("*.ipynb"))[0]
    nb = nbformat.read(source, as_version=4)
    del nb.cells[1]  # the English twin of the title
    nbformat.write(nb, source)
    done = course_cli("build", "--check", root=root)
    assert done.returncode == 2
    assert source.name in done.stderr and "lang-en" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.nbgrader  # the releases are made by nbgrader generate_assignment
def test_a_source_nbgrader_refuses_is_named_without_a_traceback(scratch_course):
    root = scratch_course.root
    source = root / "source" / "unit01" / "exercises.ipynb"
    nb = nbformat.read(source, as_version=4)
    (test,) = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_mul_gate_backward"
    ]
    twin = nbformat.v4.new_code_cell(test.source, metadata=copy.deepcopy(test.metadata))
    nb.cells.append(twin)  # two grade cells with one id
    nbformat.write(nb, source)
    done = course_cli("build", "--check", root=root)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "generate_assignment" in done.stderr and "unit01" in done.stderr and "실패했습니다" in done.stderr
    assert "Duplicate grade id: test_mul_gate_backward" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_assignment_gets_a_one_line_bilingual_message(course, tmp_path):
    done = course_cli("release", "no_such_unit", "--output", str(tmp_path), root=course.root)
    assert done.returncode == 2
    assert "과제가 없습니다" in done.stderr and "no assignment 'no_such_unit'" in done.stderr
    assert "Traceback" not in done.stderr


def test_outside_a_course(tmp_path):
    done = course_cli("build", "--check", root=tmp_path)
    assert done.returncode == 2 and "no course" in done.stderr


@pytest.mark.nbgrader  # the release is made by nbgrader generate_assignment
def test_release_in_one_language_goes_beside_the_committed_release(scratch_course):
    """`course release unit01 --lang ko` works, says where it wrote, and leaves release/ alone."""
    root = scratch_course.root
    committed = (root / "release" / "unit01" / "exercises.ipynb").read_bytes()
    done = course("release", "unit01", "--lang", "ko", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "release-ko/unit01" in done.stdout and "만들었습니다" in done.stdout and "wrote" in done.stdout
    assert (root / "release" / "unit01" / "exercises.ipynb").read_bytes() == committed
    korean = nbformat.read(root / "release-ko" / "unit01" / "exercises.ipynb", as_version=4)
    assert korean.metadata["course"]["lang"] == "ko"
    prose = [c for c in korean.cells if c.cell_type == "markdown" and "nbgrader" not in c.metadata]
    assert prose and all(c.metadata["tags"] == ["lang-ko"] for c in prose)


def answer_in(path, answer: str, grade_id: str = "mul_gate_backward") -> None:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    cell.source = answer
    nbformat.write(nb, path)


def holds(path, answer: str) -> bool:
    return any(answer in cell.source for cell in nbformat.read(path, as_version=4).cells)


ANSWER = "def mul_gate_backward(x, y, upstream):\n    return upstream * y, upstream * x  # my own answer"


@pytest.mark.nbgrader  # the releases are made by nbgrader generate_assignment
def test_build_keeps_an_answer_written_into_a_generated_notebook(scratch_course):
    """A student wrote an answer into release/ (the old README said to): `course build` names the file
    and keeps it, with JupyterLab's checkpoint beside it, until it is forced."""
    root = scratch_course.root
    release = root / "release" / "unit01" / "exercises.ipynb"
    answer_in(release, ANSWER)
    checkpoint = root / "release" / "unit01" / ".ipynb_checkpoints" / "exercises-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    shutil.copy(release, checkpoint)
    source = root / "source" / "unit01" / "exercises.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[1].source += " Good luck!"  # the build now has something new to write over the answer
    nbformat.write(nb, source)

    done = course_cli("build", root=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "  release/unit01/exercises.ipynb" in done.stdout and "--force" in done.stdout, done.stdout
    assert "그대로 두었습니다" in done.stdout and "were kept" in done.stdout
    assert holds(release, ANSWER) and holds(checkpoint, ANSWER)

    forced = course_cli("build", "--force", root=root)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert not holds(release, ANSWER) and "Good luck!" in release.read_text(encoding="utf-8")
    assert holds(checkpoint, ANSWER), "a hidden folder is never the build's"


@pytest.mark.nbgrader  # `course build` and `course start --lang ko` run nbgrader generate_assignment
def test_course_start_copies_an_assignment_into_a_folder_no_command_rebuilds(scratch_course):
    root = scratch_course.root
    done = course("start", "unit01", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    work = root / "work" / "unit01" / "exercises.ipynb"
    assert "work/unit01/" in done.stdout and "복사했습니다" in done.stdout and "copied" in done.stdout
    assert work.read_bytes() == (root / "release" / "unit01" / "exercises.ipynb").read_bytes()
    answer_in(work, ANSWER)

    again = course("start", "unit01", cwd=root)
    assert again.returncode == 0 and "work/unit01/exercises.ipynb" in again.stdout, again.stdout
    assert "already there" in again.stdout and holds(work, ANSWER)
    rebuilt = course_cli("build", root=root)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert holds(work, ANSWER)

    korean = course("start", "unit02", "--lang", "ko", cwd=root)
    assert korean.returncode == 0, korean.stdout + korean.stderr
    nb = nbformat.read(root / "work" / "unit02" / "exercises.ipynb", as_version=4)
    assert nb.metadata["course"]["lang"] == "ko"
    assert not [c for c in nb.cells if "lang-en" in c.metadata.get("tags", [])]
