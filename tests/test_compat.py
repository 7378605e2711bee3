"""``course grade`` gives the grades stock ``nbgrader autograde`` gives, on an ordinary nbgrader course.

The course (``tests/compat/``) and its class are graded both ways by ``benchmarks/nbgrader_agreement.py``
(imported here, not copied); every grade cell, late penalty and total of every student is compared. A
disagreement is allowed only where ``tests/compat/differences.toml`` documents it as deliberate, with its
reason in Korean and English (the README cites that file); a documented difference that no longer occurs
fails too, so the list stays true.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIFFERENCES = ROOT / "tests" / "compat" / "differences.toml"
FIELDS = ("student", "assignment", "notebook", "grade_id")

pytestmark = [pytest.mark.grading, pytest.mark.nbgrader]


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "nbgrader_agreement", ROOT / "benchmarks" / "nbgrader_agreement.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


agreement = _benchmark()


def differences() -> list[dict]:
    return tomllib.loads(DIFFERENCES.read_text(encoding="utf-8"))["difference"]


def _matches(value: str, pattern: object) -> bool:
    patterns = pattern if isinstance(pattern, list) else [pattern]
    return any(fnmatchcase(value, str(p)) for p in patterns)


def documented(key: tuple, entries: list[dict], scores: tuple[str, str] | None = None) -> dict | None:
    """The entry that lists this grade cell (and these two scores, when given)."""
    for entry in entries:
        if not all(_matches(part, entry[name]) for part, name in zip(key, FIELDS, strict=True)):
            continue
        if scores is None or (
            _matches(scores[0], entry["nbgrader"]) and _matches(scores[1], entry["course"])
        ):
            return entry
    return None


def explained(disagreement, entries: list[dict], cells: list) -> dict | None:
    """The entry that documents a disagreement, scores included; a late penalty or a total that differs
    is explained by a documented grade cell of the same notebook (or assignment) that differs."""
    student, assignment, notebook, grade_id = disagreement.key
    if grade_id == "<late penalty>":
        related = [d for d in cells if d.key[:3] == (student, assignment, notebook)]
    elif grade_id == "<total>":
        related = [d for d in cells if d.key[:2] == (student, assignment)]
    else:
        related = [disagreement]
    for d in related:
        entry = documented(d.key, entries, (agreement.score_text(d.nbgrader), agreement.score_text(d.course)))
        if entry is not None:
            return entry
    return None


def test_every_difference_has_its_reasons():
    entries = differences()
    assert entries
    for entry in entries:
        assert set(FIELDS) <= set(entry), entry
        for lang in ("ko", "en"):
            assert len(str(entry.get(lang, "")).strip()) > 40, f"{entry['id']}: reason in {lang} missing"
        assert {"nbgrader", "course"} <= set(entry), f"{entry['id']}: the two scores"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    # both graders at once: the comparison does not need their times, and it halves the wait
    return agreement.compare(tmp_path_factory.mktemp("agreement"), at_once=True)


def test_course_grade_agrees_with_nbgrader_but_for_documented_differences(comparison, capsys):
    with capsys.disabled():
        print("\n" + agreement.report(comparison))
    entries = differences()
    cells = [d for d in comparison.disagreements if not d.grade_id.startswith("<")]
    unexplained = [d for d in comparison.disagreements if explained(d, entries, cells) is None]
    lines = [
        f"{d.key}: nbgrader {agreement.score_text(d.nbgrader)}, course {agreement.score_text(d.course)}: "
        + d.message[:300]
        for d in unexplained
    ]
    assert not unexplained, "undocumented disagreements:\n" + "\n".join(lines)
    stale = [e["id"] for e in entries if not any(explained(d, [e], cells) for d in cells)]
    assert not stale, f"documented differences that no longer occur (remove them): {stale}"


def test_the_class_spans_the_grades(comparison):
    """The comparison is worth something: every student graded both ways, full marks and zero among them."""
    stock = agreement.grades(comparison.folders["nbgrader"])
    assert comparison.cells == sum(1 for key in stock if not key[3].startswith("<")) >= 100
    totals = {key[:2]: score for key, (score, _) in stock.items() if key[2] == "<total>"}
    assert {s for s, _ in totals} == set(agreement.students.STUDENTS)
    assert totals[("blank", "ps1")] == totals[("blank", "ps2")] == 0
    assert totals[("full", "ps1")] == 18 and totals[("full", "ps2")] == 5
    # the NumPy course: the solutions get full marks, the release zero, the mistakes something between,
    # and the two cheats get points under nbgrader (differences.toml: not under course grade)
    assert totals[("full", "ps3")] == 21 and totals[("blank", "ps3")] == 0
    assert 0 < totals[("partial", "ps3")] < 21
    assert totals[("patcher", "ps3")] > 0 and totals[("shadow", "ps3")] > 0
    # the late-penalty plugin ran: two started days late for ps1 (per notebook), one for ps2
    assert totals[("late", "ps1")] == 18 - 2 * 2 and totals[("late", "ps2")] == 5 - 1


def test_the_time_limit_is_nbgraders(comparison):
    """``c.Execute.timeout`` (10 s in tests/compat/nbgrader_config.py) is the limit ``course grade`` used
    for the endless loop, and the message says so."""
    message = agreement.course_message(
        comparison.folders["course"], ("looper", "ps2", "loops", "test_collatz")
    )
    assert "(10 s)" in message and "(10초)" in message, message
