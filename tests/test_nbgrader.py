"""The nbgrader contract, with real nbgrader: validate and validate --invert on every notebook, each
notebook's stated total, and Korean-only, English-only and bilingual releases grading into one gradebook.
(Autograde, feedback and export of every assignment: tests/test_mutations.py.)"""

import io
import re
from pathlib import Path

import nbformat
import pytest

from autograder.bilingual import cell_lang
from autograder.build import build_release
from autograder.grading import nbgrader_api
from tests.classes import COURSE, answered, gradebook, nbgrader, new_class, scores, submit

pytestmark = pytest.mark.nbgrader

NOTEBOOKS = sorted(COURSE.source.glob("*/*.ipynb"))
IDS = [p.relative_to(COURSE.source).as_posix() for p in NOTEBOOKS]


def validate(path: Path, invert: bool = False) -> str:
    """What ``nbgrader validate [--invert] PATH`` prints, from nbgrader's own ``Validator`` (the class the
    command and JupyterLab's Validate button use) run in this process, with the course's config."""
    from nbgrader.validator import Validator

    validator = Validator(config=nbgrader_api.config(COURSE.root))
    validator.invert = invert
    validator.stream = io.StringIO()
    validator.validate_and_print(str(path))
    return validator.stream.getvalue()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_solutions_pass_validate(path):
    out = validate(path)
    assert "Success! Your notebook passes all the tests." in out, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_release_fails_validate_invert(path):
    out = validate(COURSE.release / path.relative_to(COURSE.source), invert=True)
    assert "Success! The notebook does not pass any tests." in out, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stated_total_equals_the_points(path):
    nb = nbformat.read(path, as_version=4)
    points = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    ko = "\n".join(c.source for c in nb.cells if cell_lang(c) == "ko")
    en = "\n".join(c.source for c in nb.cells if cell_lang(c) == "en")
    assert re.search(r"총\s*(\d+)\s*점", ko), "the Korean intro must state the total: 총 N점"
    assert re.search(r"(\d+)\s+points in total", en), (
        "the English intro must state the total: N points in total"
    )
    assert int(re.search(r"총\s*(\d+)\s*점", ko).group(1)) == points
    assert int(re.search(r"(\d+)\s+points in total", en).group(1)) == points


def test_korean_english_and_bilingual_releases_grade_into_one_gradebook(tmp_path, class_cache):
    assignment = COURSE.assignments()[0]
    class_dir = new_class(tmp_path / "class", [assignment], class_cache)
    for lang in ("ko", "en", "both"):
        released = build_release(COURSE, assignment, tmp_path / lang, lang)
        notebooks = {p.name: nbformat.read(p, as_version=4) for p in released.glob("*.ipynb")}
        for nb in notebooks.values():
            langs = {cell_lang(c) for c in nb.cells} - {None}
            assert langs == ({"ko", "en"} if lang == "both" else {lang})
        answers = {n: answered(assignment, n, release=nb) for n, nb in notebooks.items()}
        submit(class_dir, f"student_{lang}", assignment, answers)
        submit(class_dir, f"blank_{lang}", assignment, notebooks)
    out = nbgrader("autograde", assignment, "--force", cwd=class_dir).stderr
    got = scores(class_dir, assignment)
    maximum = got["student_ko"][1]
    for lang in ("ko", "en", "both"):
        assert got[f"student_{lang}"] == (maximum, maximum), (lang, out)
        assert got[f"blank_{lang}"] == (0.0, maximum), lang
    with gradebook(class_dir) as gb:  # one assignment, whatever language each student worked in
        assert [a.name for a in gb.assignments] == [assignment]
        assert len(gb.assignment_submissions(assignment)) == 6
