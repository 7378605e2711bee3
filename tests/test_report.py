"""``course report`` and ``course export --format canvas|moodle`` on a class whose mistakes are planted.

Every student of the class hands in unit 1's reference solutions with one known change, so what the report
must count is known before grading: which mistake the checker names on which exercise and for how many
students, which shortcut the rules refuse, who earns partial credit, where the visible tests pass and a
hidden one fails, and whose grading leaves a reason (a timeout, a broken file, a missing notebook). The
class is graded once, for real (``course grade``: nbgrader's gradebook, the sandbox); the report is read
back as CSV and as the page Chromium renders; the LMS files are read back by their documented headers.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tests.classes import AUTOGRAD_STAGED_SIGMOID as AUTOGRAD
from tests.classes import answered, course, gradebook, new_class, scores, solutions, submit

pytestmark = pytest.mark.grading

ASSIGNMENT = "unit01"
FULL = 16.0
LIMITS = ["--cell-timeout", "8", "--timeout", "120"]

# A mistake is planted by wrapping the reference function: its result (and its arguments) go through an
# expression, so the planted class does not depend on how a solution is written.
WRAPPER = """

_reference_{name} = {name}


def {name}(*args):
    result = _reference_{name}(*args)
    return {expression}
"""
NEGATED = "tuple(-v for v in result)"
PLANTS = {  # kind: (function, expression)
    "sign": ("mul_gate_backward", NEGATED),
    # right at the visible test point only: the hidden tests fail
    "hidden": ("mul_gate_backward", f"result if args == (2.0, -3.0, 1.5) else {NEGATED}"),
    # x^x: dL/dx is the base slot's contribution alone, the exponent slot left out (the 2-point part)
    "slot": ("self_power_backward", "(result[0], result[1], result[0])"),
    # the diamond: ∂f/∂w doubled (one part of two)
    "double": ("diamond_backward", "(*result[:3], 2 * result[3])"),
    "staged": ("staged_sigmoid_backward", "(*result[:5], -result[5], *result[6:])"),
}
NUMERIC = (
    "def self_power_backward(x, upstream):\n"
    "    h = 1e-6\n"
    "    via_base = upstream * x * x ** (x - 1)\n"
    "    via_exponent = upstream * x ** x * math.log(x)\n"
    "    dL_dx = upstream * ((x + h) ** (x + h) - (x - h) ** (x - h)) / (2 * h)\n"
    "    return via_base, via_exponent, dL_dx\n"
)
# how many students of each kind
CLASS = {"right": 3, "sign": 4, "hidden": 2, "slot": 3, "double": 2, "staged": 2}

# what the report must show for this class
MISTAKES = {  # (exercise, mistake id): students
    ("test_mul_gate_backward", "sign_flipped"): CLASS["sign"] + CLASS["hidden"],
    ("test_self_power_backward", "fork_branch_missing"): CLASS["slot"],
    ("test_diamond_backward", "factor_two"): CLASS["double"],
    ("test_staged_sigmoid_backward", "sign_flipped"): CLASS["staged"],
}
SHORTCUTS = {("test_staged_sigmoid_backward", "autograd"): 1, ("test_self_power_backward", "numeric"): 1}
HIDDEN_ONLY = {"test_mul_gate_backward": CLASS["hidden"]}
REASONS = {
    "missing": {"missing"},
    "corrupt": {"unreadable"},
    "timeout": {"timeout"},
    "ungraded": {"not_graded"},
}
# the exercises' points: mul 1, max 1, staged 4, self power 3, nested max 2, relu max 2, diamond 3
EXPECTED_SCORES = {
    "right": FULL,
    "sign": FULL - 1,
    "hidden": FULL - 1,
    "slot": FULL - 2,  # "base slot and dL/dx" is worth 2 of exercise 3's 3 points
    "double": FULL - 1.5,
    "staged": FULL - 4,  # its eight values are one part: one wrong value loses all four points
    "autograd": FULL - 4,
    "numeric": FULL - 3,
    "blank": 0.0,
    "missing": 0.0,
    "corrupt": 0.0,
    "timeout": FULL - 1,
}
# identities the LMS files need, as nbgrader's student records hold them (Korean names included)
PEOPLE = {
    "right0": ("민준", "김", "minjun@example.edu", "1001"),
    "right1": ("Ada", "Lovelace", "ada@example.edu", "1002"),
    "sign0": ("서연", "이", "seoyeon@example.edu", None),
    "absent": ("Never", "Submitted", "absent@example.edu", "1099"),
}


def planted(kind: str, number: int):
    function, expression = PLANTS[kind]
    cell = solutions(ASSIGNMENT)[function] + WRAPPER.format(name=function, expression=expression)
    return answered(ASSIGNMENT, change={function: cell})


def expected_score(student: str) -> float:
    return EXPECTED_SCORES[student.rstrip("0123456789")]


@pytest.fixture(scope="module")
def reported(tmp_path_factory, class_cache):
    """The planted class, graded by ``course grade``, then reported by ``course report``."""
    class_dir = new_class(tmp_path_factory.mktemp("reported"), [ASSIGNMENT], class_cache)
    for kind, count in CLASS.items():
        for number in range(count):
            nb = answered(ASSIGNMENT) if kind == "right" else planted(kind, number)
            submit(class_dir, f"{kind}{number}", ASSIGNMENT, {"exercises.ipynb": nb})
    submit(
        class_dir,
        "autograd0",
        ASSIGNMENT,
        {"exercises.ipynb": answered(ASSIGNMENT, change={"staged_sigmoid_backward": AUTOGRAD})},
    )
    submit(
        class_dir,
        "numeric0",
        ASSIGNMENT,
        {"exercises.ipynb": answered(ASSIGNMENT, change={"self_power_backward": NUMERIC})},
    )
    submit(class_dir, "blank0", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT, answers="none")})
    submit(class_dir, "missing0", ASSIGNMENT, {"notes.txt": "I forgot"})
    submit(class_dir, "corrupt0", ASSIGNMENT, {"exercises.ipynb": "{"})
    submit(
        class_dir,
        "timeout0",
        ASSIGNMENT,
        {"exercises.ipynb": answered(ASSIGNMENT, change={"max_gate_backward": "while True:\n    pass"})},
    )
    with gradebook(class_dir) as gb:
        for student, (first, last, email, lms) in PEOPLE.items():
            gb.update_or_create_student(
                student, first_name=first, last_name=last, email=email, lms_user_id=lms
            )
    graded = course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    # handed in after the run: a submission the report must list as not graded yet
    submit(class_dir, "ungraded0", ASSIGNMENT, {"exercises.ipynb": answered(ASSIGNMENT)})
    done = course("report", ASSIGNMENT, cwd=class_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    return class_dir, done


def table(class_dir: Path, name: str) -> list[dict]:
    with open(class_dir / "course_results" / ASSIGNMENT / "report" / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------ the record


def test_the_results_record_what_the_checker_named(reported):
    class_dir, _ = reported
    record = json.loads((class_dir / "course_results" / ASSIGNMENT / "slot0.json").read_text())
    assert record["version"] == 3
    cells = {c["grade_id"]: c for c in record["notebooks"]["exercises"]["cells"]}
    power = cells["test_self_power_backward"]
    assert [(m["id"], m["part"], m["stage"]) for m in power["mistakes"]] == [
        ("fork_branch_missing", "base slot and dL/dx", "visible")
    ]
    assert "분기(fork)" in power["mistakes"][0]["ko"] and "branch of a fork" in power["mistakes"][0]["en"]
    assert power["parts"] == [
        {"name": "exponent slot", "passed": True, "failed_in": None},
        {"name": "base slot and dL/dx", "passed": False, "failed_in": "visible"},
    ]
    assert power["score"] == 1.0
    hidden = json.loads((class_dir / "course_results" / ASSIGNMENT / "hidden0.json").read_text())
    mul = {c["grade_id"]: c for c in hidden["notebooks"]["exercises"]["cells"]}["test_mul_gate_backward"]
    assert mul["hidden_failed"] and [(m["id"], m["stage"]) for m in mul["mistakes"]] == [
        ("sign_flipped", "hidden")
    ]
    autograd = json.loads((class_dir / "course_results" / ASSIGNMENT / "autograd0.json").read_text())
    staged = {c["grade_id"]: c for c in autograd["notebooks"]["exercises"]["cells"]}[
        "test_staged_sigmoid_backward"
    ]
    assert [s["kind"] for s in staged["shortcuts"]] == ["autograd"] and ".backward" in staged["shortcuts"][0][
        "found"
    ]
    right = json.loads((class_dir / "course_results" / ASSIGNMENT / "right0.json").read_text())
    assert not any(c["mistakes"] or c["shortcuts"] for c in right["notebooks"]["exercises"]["cells"])


# ------------------------------------------------------------------------------------------ the report


def test_every_grade_is_as_planted(reported):
    class_dir, _ = reported
    got = scores(class_dir, ASSIGNMENT)
    assert {s: score for s, (score, _) in got.items()} == {s: expected_score(s) for s in got}
    assert len(got) == sum(CLASS.values()) + 6 and "absent" not in got
    rows = {r["student"]: r for r in table(class_dir, "students.csv")}
    for student, (score, maximum) in got.items():
        assert float(rows[student]["score"]) == score and float(rows[student]["max_score"]) == maximum
    assert rows["absent"]["submitted"] == "0" and rows["absent"]["score"] == ""
    distribution = table(class_dir, "distribution.csv")
    assert len(distribution) == int(FULL) + 1 and sum(int(r["students"]) for r in distribution) == len(got)
    counted = Counter(expected_score(s) for s in got)
    for row in distribution:
        low, high = float(row["score_from"]), float(row["score_below"])
        assert int(row["students"]) == sum(n for score, n in counted.items() if low <= score < high), row
    assert (
        float(distribution[-1]["score_from"]) == FULL and int(distribution[-1]["students"]) == CLASS["right"]
    )


def test_the_mistakes_are_counted_and_ranked(reported):
    class_dir, _ = reported
    rows = table(class_dir, "mistakes.csv")
    assert {(r["grade_id"], r["mistake"]): int(r["students"]) for r in rows} == MISTAKES
    counts = [int(r["students"]) for r in rows]
    assert counts == sorted(counts, reverse=True) and [r["rank"] for r in rows] == [
        str(i) for i in range(1, len(rows) + 1)
    ]
    top = rows[0]
    assert (
        top["mistake"] == "sign_flipped"
        and "부호가 반대" in top["hint_ko"]
        and "sign is flipped" in top["hint_en"]
    )
    assert sorted(top["who"].split(";")) == sorted(
        [f"sign{i}" for i in range(CLASS["sign"])] + [f"hidden{i}" for i in range(CLASS["hidden"])]
    )
    assert all(r["title_ko"] and r["title_en"] and r["title_ko"] != r["title_en"] for r in rows)


def test_the_refused_shortcuts_are_counted(reported):
    class_dir, _ = reported
    rows = table(class_dir, "shortcuts.csv")
    assert {(r["grade_id"], r["shortcut"]): int(r["students"]) for r in rows} == SHORTCUTS
    autograd = next(r for r in rows if r["shortcut"] == "autograd")
    assert (
        autograd["who"] == "autograd0"
        and "자동 미분" in autograd["message_ko"]
        and "autograd" in autograd["message_en"]
    )


def test_full_partial_and_zero_marks_per_exercise(reported):
    class_dir, _ = reported
    rows = {r["grade_id"]: r for r in table(class_dir, "exercises.csv")}
    graded = len(scores(class_dir, ASSIGNMENT))  # the submissions ("absent" never submitted)
    broken = 3  # blank, missing, corrupt: zero everywhere
    power = rows["test_self_power_backward"]
    assert (int(power["full"]), int(power["partial"]), int(power["zero"])) == (
        graded - broken - CLASS["slot"] - 1,
        CLASS["slot"],
        broken + 1,  # and numeric0
    )
    mul = rows["test_mul_gate_backward"]
    assert int(mul["zero"]) == broken + CLASS["sign"] + CLASS["hidden"] and int(mul["partial"]) == 0
    staged = rows["test_staged_sigmoid_backward"]
    # autograd0 is zero here too
    assert int(staged["partial"]) == 0 and int(staged["zero"]) == broken + CLASS["staged"] + 1
    diamond = rows["test_diamond_backward"]
    assert int(diamond["partial"]) == CLASS["double"] and int(diamond["zero"]) == broken
    assert int(rows["test_max_gate_backward"]["zero"]) == broken + 1  # and timeout0
    assert all(int(r["students"]) == graded for r in rows.values())
    assert {g: int(r["hidden_only"]) for g, r in rows.items() if int(r["hidden_only"])} == HIDDEN_ONLY


def test_the_students_whose_grading_left_a_reason(reported):
    class_dir, _ = reported
    found: dict[str, set[str]] = {}
    for row in table(class_dir, "reasons.csv"):
        found.setdefault(row["student"].rstrip("0123456789"), set()).add(row["reason"])
        assert row["reason_ko"] and row["reason_en"]
    assert found == REASONS


def test_the_page_holds_the_same_numbers_in_both_languages(reported):
    import html
    import re

    class_dir, done = reported
    page = html.unescape(
        (class_dir / "course_results" / ASSIGNMENT / "report.html").read_text(encoding="utf-8")
    )
    assert "report.html" in done.stdout and "보고서" in done.stdout
    for heading in (
        "점수 분포",
        "Score distribution",
        "학생들이 한 실수",
        "The mistakes students made",
        "지름길",
        "Shortcuts the grader refused",
        "이유가 남은 학생",
        "left a reason",
        "숨겨진 테스트에서 틀린",
        "hidden tests failed",
    ):
        assert heading in page, heading
    images = re.findall(r'<img class="figure" id="figure-(\w+)"', page)
    assert images == ["distribution", "exercises", "mistakes", "hidden"]
    for (grade_id, key), count in MISTAKES.items():
        row = re.search(
            rf'<tr data-grade-id="{grade_id}" data-key="{key}">.*?class="n count">(\d+)<', page, re.S
        )
        assert row and int(row.group(1)) == count, (grade_id, key)
    assert "BEGIN HIDDEN" not in page


def test_the_figures_draw_hangul_with_no_missing_glyph(reported, caplog):
    """The report's figures, drawn again in this process, warn of no missing glyph: Hangul is drawn."""
    import base64

    from autograder.grading.report import collect, figures

    class_dir, _ = reported
    report = collect(class_dir, ASSIGNMENT)
    assert any("가" <= ch <= "힣" for e in report.exercises for ch in e.titles["ko"])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        drawn = figures(report)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "glyph" in m.lower()], messages
    assert all(base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n" for png in drawn.values())


def test_bad_input_gets_a_clear_message(reported, tmp_path, class_cache):
    class_dir, _ = reported
    unknown = course("report", "unit99", cwd=class_dir)
    assert unknown.returncode == 2 and "unit99" in unknown.stderr and "성적부" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    fresh = new_class(tmp_path / "fresh", [ASSIGNMENT], class_cache)
    nothing = course("report", ASSIGNMENT, cwd=fresh)
    assert nothing.returncode == 2 and "course grade" in nothing.stderr and "채점 결과" in nothing.stderr
    # a result file that cannot be read is a reason in the report, never a crash and never a changed grade
    copy = tmp_path / "copy"
    shutil.copytree(class_dir, copy)
    (copy / "course_results" / ASSIGNMENT / "right2.json").write_text("{not json")
    before = scores(copy, ASSIGNMENT)
    again = course("report", ASSIGNMENT, cwd=copy)
    assert again.returncode == 0, again.stderr
    rows = {r["student"]: r["reason"] for r in table(copy, "reasons.csv")}
    assert rows["right2"] == "not_graded"
    assert scores(copy, ASSIGNMENT) == before


# --------------------------------------------------------------------------------- grades to the LMS

# The layouts as Canvas's and Moodle's documentation give them (written out here, not imported from the code)
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]


def nbgrader_grades(class_dir: Path, tmp_path: Path) -> dict[tuple[str, str], float]:
    """(student, assignment) → score, from stock ``nbgrader export`` (through ``course export``)."""
    done = course("export", "--to", str(tmp_path / "nbgrader.csv"), cwd=class_dir)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "nbgrader.csv", newline="", encoding="utf-8") as f:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}


def students_of(class_dir: Path) -> dict[str, object]:
    with gradebook(class_dir) as gb:
        return {
            s.id: {"first": s.first_name, "last": s.last_name, "email": s.email, "lms": s.lms_user_id}
            for s in gb.students
        }


def read_canvas(path: Path, students: dict) -> tuple[list[str], dict[str, str], dict[tuple[str, str], str]]:
    """The file as Canvas reads it: the header, the Points Possible row, each row matched to a student by
    its ID (the Canvas user id) or else its SIS Login ID."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, points, body = rows[0], rows[1], rows[2:]
    assert points[0].strip() == "Points Possible" and not any(points[1:5])
    by_lms = {v["lms"]: k for k, v in students.items() if v["lms"]}
    grades, seen = {}, []
    for row in body:
        student = by_lms.get(row[1]) if row[1] else row[3]
        assert student in students, row
        seen.append(student)
        for column, value in zip(header[5:], row[5:], strict=True):
            grades[student, column] = value
    assert sorted(seen) == sorted(students), "every student once"
    return header, dict(zip(header[5:], points[5:], strict=True)), grades


def read_moodle(path: Path, students: dict) -> tuple[list[str], dict[tuple[str, str], str]]:
    """The file as Moodle's import reads it with "Map from: Email address" (Username where a student has
    no email): each grade column is "<assignment> (Real)"."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    by_email = {v["email"]: k for k, v in students.items() if v["email"]}
    grades, seen = {}, []
    columns = [(i, c.removesuffix(" (Real)")) for i, c in enumerate(header) if c.endswith(" (Real)")]
    for row in body:
        record = dict(zip(header, row, strict=True))
        student = by_email.get(record["Email address"]) or record["Username"]
        assert student in students, row
        seen.append(student)
        for index, assignment in columns:
            grades[student, assignment] = row[index]
    assert sorted(seen) == sorted(students), "every student once"
    return header, grades


def test_canvas_file_has_canvas_layout_and_every_grade(reported, tmp_path):
    class_dir, _ = reported
    done = course("export", "--format", "canvas", "--to", str(tmp_path / "canvas.csv"), cwd=class_dir)
    assert done.returncode == 0, done.stderr
    assert "Canvas" in done.stdout and "점수" in done.stdout
    assert "lms_user_id" in done.stderr and "sign0" in done.stderr and "right0" not in done.stderr
    students = students_of(class_dir)
    header, points, grades = read_canvas(tmp_path / "canvas.csv", students)
    assert header == [*CANVAS_HEADER, ASSIGNMENT] and points == {ASSIGNMENT: f"{FULL:g}"}
    expected = nbgrader_grades(class_dir, tmp_path)
    assert {key: float(value) for key, value in grades.items()} == expected
    with open(tmp_path / "canvas.csv", newline="", encoding="utf-8") as f:
        rows = {row[3]: row for row in csv.reader(f)}
    assert rows["right0"][:2] == ["김, 민준", "1001"] and rows["right1"][0] == "Lovelace, Ada"
    assert rows["absent"][5] == "0"  # no submission: 0, as nbgrader export writes it


def test_moodle_file_has_moodle_layout_and_every_grade(reported, tmp_path):
    class_dir, _ = reported
    done = course("export", "--format", "moodle", "--to", str(tmp_path / "moodle.csv"), cwd=class_dir)
    assert done.returncode == 0, done.stderr
    students = students_of(class_dir)
    header, grades = read_moodle(tmp_path / "moodle.csv", students)
    assert header == [*MOODLE_HEADER, "Username", f"{ASSIGNMENT} (Real)"]
    assert {key: float(value) for key, value in grades.items()} == nbgrader_grades(class_dir, tmp_path)
    assert "sign0" not in done.stderr.split("Username")[0] and "blank0" in done.stderr


def test_every_grade_makes_the_round_trip_exactly(reported, tmp_path):
    """A manual grade with no short decimal form (1/3), and a late penalty, reach both files exactly as the
    gradebook and ``nbgrader export`` hold them."""
    import datetime

    class_dir = tmp_path / "class"
    shutil.copytree(reported[0], class_dir)
    with gradebook(class_dir) as gb:
        gb.find_grade("test_diamond_backward", "exercises", ASSIGNMENT, "double0").manual_score = 1 / 3
        late = gb.find_submission(ASSIGNMENT, "right2")
        late.notebooks[0].late_submission_penalty = 0.7
        gb.find_assignment(ASSIGNMENT).duedate = datetime.datetime(2020, 1, 1)
        gb.db.commit()
    expected = nbgrader_grades(class_dir, tmp_path)
    assert expected["double0", ASSIGNMENT] == pytest.approx(FULL - 3 + 1 / 3)
    assert expected["right2", ASSIGNMENT] == pytest.approx(FULL - 0.7)
    students = students_of(class_dir)
    for fmt in ("canvas", "moodle"):
        done = course("export", "--format", fmt, "--to", f"{fmt}.csv", cwd=class_dir)
        assert done.returncode == 0, done.stderr
        read = read_canvas if fmt == "canvas" else read_moodle
        grades = read(class_dir / f"{fmt}.csv", students)[-1]
        assert {key: float(value) for key, value in grades.items()} == expected, fmt


def test_export_refuses_an_unknown_assignment(reported, tmp_path):
    class_dir, _ = reported
    done = course(
        "export",
        "--format",
        "canvas",
        "--assignment",
        "unit99",
        "--to",
        str(tmp_path / "x.csv"),
        cwd=class_dir,
    )
    assert done.returncode == 2 and "unit99" in done.stderr and "성적부" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_the_report_in_chromium(reported, tmp_path):
    """The page in headless Chromium on a machine whose only font is Korean: both languages, every figure
    drawn, the mistakes table as counted, Hangul in a real font, nothing fetched; its screenshot is the
    README's (``COURSE_SCREENSHOTS=1 python -m pytest -m browser``)."""
    from selenium.webdriver.common.by import By

    from tests.test_browser import ARTIFACTS, SCREENSHOTS, Page, start_chromium

    class_dir, _ = reported
    path = class_dir / "course_results" / ASSIGNMENT / "report.html"
    browser = start_chromium(tmp_path / "chromium", system_fonts=False)
    try:
        page = Page(browser, None)
        browser.set_window_size(1280, 1700)
        browser.get(path.as_uri())
        page.wait(
            lambda: page.js(
                "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            ),
            "every figure is drawn",
        )
        assert browser.title == "unit01 반 전체 보고서 · unit01 class report"
        figures = browser.find_elements(By.CSS_SELECTOR, "img.figure")
        assert [f.get_attribute("id") for f in figures] == [
            "figure-distribution",
            "figure-exercises",
            "figure-mistakes",
            "figure-hidden",
        ]
        assert all(f.size["width"] > 300 and f.size["height"] > 100 for f in figures)
        shown = {
            (row.get_attribute("data-grade-id"), row.get_attribute("data-key")): int(
                row.find_element(By.CSS_SELECTOR, ".count").text
            )
            for row in browser.find_elements(By.CSS_SELECTOR, "#mistakes tr[data-key]")
        }
        assert shown == MISTAKES
        text = page.js("return document.body.innerText")
        for words in (
            "학생들이 한 실수",
            "The mistakes students made",
            "부호가 반대입니다",
            "the sign is flipped",
        ):
            assert words in text, words
        reasons = {
            row.get_attribute("data-student"): {
                r.get_attribute("data-reason") for r in row.find_elements(By.CSS_SELECTOR, ".reason")
            }
            for row in browser.find_elements(By.CSS_SELECTOR, "#reasons tr[data-student]")
        }
        assert {s.rstrip("0123456789"): r for s, r in reasons.items()} == REASONS
        # Hangul drawn in NanumGothic, not as boxes of a font without it
        browser.execute_cdp_cmd("DOM.enable", {})
        browser.execute_cdp_cmd("CSS.enable", {})
        root = browser.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        heading = browser.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": "h1 [lang=ko]"})
        fonts = browser.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": heading["nodeId"]})["fonts"]
        assert fonts and {f["familyName"] for f in fonts} <= {"NanumGothic"}, fonts
        fetched = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
        assert all(name.startswith(("data:", "file:")) for name in fetched), fetched
        console = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not console, console
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "class-report.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("COURSE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, SCREENSHOTS / "class-report.png")
    finally:
        browser.quit()
