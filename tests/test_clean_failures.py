"""A failed check shows the student its message and diagnosis, and nothing of the checker.

In a real kernel (nbclient, as JupyterLab and nbgrader run one) the error output of a failed ``assert_*``
is ``CheckFailed`` with the checker's message as its value, and its traceback lines are that message
alone: no checker frame, no file path. Any other error keeps IPython's full traceback. Stock nbgrader
(autograde, then generate_feedback) stores those lines and scores the cell 0, as it scores any error;
``course grade`` gives the same scores and keeps the same message.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters import strip_ansi

from autograder import CheckFailed, assert_gradient, assert_value, returned
from tests.classes import cell_scores, course, nbgrader, submit

# a file path as a traceback gives one: /usr/…, ~/…, C:\…, or any *.py
PATH = re.compile(r"(^|[\s\"'(])(/[\w.+-]+/|~/|[A-Za-z]:\\)|\.py\b")

SETUP = "from autograder import assert_gradient, assert_value, returned"
# an answer that was to be derived by hand, computed with autograd: the rule's CheckFailed (rules.py)
BY_HAND = (
    "def dsquare(x):\n"
    "    import torch\n"
    "    t = torch.tensor(x, requires_grad=True)\n"
    "    (t * t).backward()\n"
    "    return t.grad"
)


def failure(check) -> str:
    """The text of the ``CheckFailed`` that ``check()`` raises here, in this process (pytest's view)."""
    with pytest.raises(CheckFailed) as caught:
        check()
    assert type(caught.value) is CheckFailed and isinstance(caught.value, AssertionError)
    return str(caught.value)


# (the cell a student runs, the same check in this process)
CASES = {
    "wrong sign": (
        "assert_gradient([3.0, 2.0], lambda x, y: x * y, 2.0, 3.0, grad_output=-1.0)",
        lambda: assert_gradient([3.0, 2.0], lambda x, y: x * y, 2.0, 3.0, grad_output=-1.0),
    ),
    "wrong shape": (
        "assert_value([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], 'y')",
        lambda: assert_value([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], "y"),
    ),
    "returned None": ("returned(None, 'dx', 'dy')", lambda: returned(None, "dx", "dy")),
}


def run_in_kernel(cells: list[str], cwd: Path) -> list[list[dict]]:
    """Each cell's outputs, the cells run in order in a real IPython kernel (errors allowed)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in cells]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return [cell.outputs for cell in nb.cells]


def assert_clean(error: dict, message: str) -> None:
    """``error`` (an error output) is ``CheckFailed: message`` shown as the message's lines alone."""
    assert error["output_type"] == "error" and error["ename"] == "CheckFailed", error
    assert error["evalue"] == message, "the exception keeps the checker's message"
    lines = [strip_ansi(line) for line in error["traceback"]]
    assert lines == ["CheckFailed", *message.strip("\n").splitlines()], lines
    shown = "\n".join(lines)
    assert "checker.py" not in shown and "Traceback" not in shown and "File " not in shown, shown
    assert not PATH.search(shown), f"a file path in what the student sees: {shown}"


@pytest.mark.notebook
def test_a_failed_check_shows_its_message_and_diagnosis_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)  # the kernel inherits it: both languages here
    setup = SETUP + "\nfrom autograder.rules import assert_by_hand"
    student_bug = "def f(w):\n    return 1 / 0\n\nassert_value(f(1.0), 2.0, 'f')"
    cells = [setup, *(code for code, _ in CASES.values()), BY_HAND, "assert_by_hand(dsquare)", student_bug]
    outputs = run_in_kernel(cells, tmp_path)
    assert outputs[0] == [], outputs[0]

    for (name, (_, check)), shown in zip(CASES.items(), outputs[1 : 1 + len(CASES)], strict=True):
        errors = [o for o in shown if o["output_type"] == "error"]
        assert len(errors) == 1, (name, shown)
        assert_clean(errors[0], failure(check))
    sign = outputs[1][0]
    assert "부호가 반대" in sign["evalue"] and "sign is flipped" in sign["evalue"], "the diagnosis is shown"

    # a rule of the exercise (autograder/rules.py raises CheckFailed too), checked in the kernel
    rule = [o for o in outputs[len(CASES) + 2] if o["output_type"] == "error"]
    assert len(rule) == 1, outputs[len(CASES) + 2]
    assert_clean(rule[0], rule[0]["evalue"])
    assert "autograd" in rule[0]["evalue"]

    # the student's own bug keeps IPython's whole traceback: its frame is what they need to see
    bug = outputs[-1][0]
    assert bug["ename"] == "ZeroDivisionError"
    frames = strip_ansi("\n".join(bug["traceback"]))
    assert "Traceback" in frames and "return 1 / 0" in frames, frames


def test_check_failed_is_the_same_assertion_with_its_message_rendered_for_ipython():
    """pytest sees an ``AssertionError`` of type ``CheckFailed`` whose text is the message; IPython asks
    it for the lines to show in place of a traceback, and gets that message."""
    message = failure(CASES["wrong sign"][1])
    assert "부호가 반대" in message and "sign is flipped" in message
    lines = [strip_ansi(line) for line in CheckFailed(message)._render_traceback_()]
    assert lines == ["CheckFailed", *message.strip("\n").splitlines()]


# --------------------------------------------------------------------- stock nbgrader and course grade

ASSIGNMENT = "clean"
ANSWER = (
    "def mul_backward(x, y, upstream):\n"
    "    ### BEGIN SOLUTION\n"
    "    return upstream * y, upstream * x\n"
    "    ### END SOLUTION"
)
TEST = (
    "dx, dy = returned(mul_backward(2.0, -3.0, 1.5), 'dx', 'dy')\n"
    "assert_gradient([dx, dy], lambda x, y: x * y, 2.0, -3.0, grad_output=1.5)"
)
PAIR_ANSWER = "def pair():\n    ### BEGIN SOLUTION\n    return 1.0, 2.0\n    ### END SOLUTION"
PAIR_TEST = "a, b = returned(pair(), 'a', 'b')\nassert_value(a + b, 3.0, 'a + b')"
WRONG = {
    "mul_backward": "def mul_backward(x, y, upstream):\n    return -upstream * y, -upstream * x",
    "pair": "def pair():\n    print(1.0, 2.0)",
}


def meta(grade_id: str, *, solution: bool = False, points: float | None = None) -> dict:
    cell = {"grade": points is not None, "grade_id": grade_id, "locked": not solution}
    cell |= {"schema_version": 3, "solution": solution, "task": False}
    return {"nbgrader": cell | ({"points": points} if points is not None else {})}


def source_notebook() -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        code(SETUP, metadata=meta("setup")),
        code(ANSWER, metadata=meta("mul_backward", solution=True)),
        code(TEST, metadata=meta("test_mul_backward", points=2)),
        code(PAIR_ANSWER, metadata=meta("pair", solution=True)),
        code(PAIR_TEST, metadata=meta("test_pair", points=1)),
    ]
    return nb


def answered(nb: nbformat.NotebookNode, wrong: bool) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    answers = {"mul_backward": ANSWER, "pair": PAIR_ANSWER}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            text = WRONG[gid] if wrong else answers[gid]
            cell.source = "\n".join(line for line in text.splitlines() if "SOLUTION" not in line)
    return nb


@pytest.fixture(scope="module")
def small_course(tmp_path_factory) -> Path:
    """A course of one two-exercise assignment, generated by nbgrader, with a right and a wrong student."""
    root = tmp_path_factory.mktemp("clean-failures") / "course"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        'c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = "clean-failures"\n'
    )
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / "exercises.ipynb")
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=root)
    release = nbformat.read(root / "release" / ASSIGNMENT / "exercises.ipynb", as_version=4)
    for student, wrong in (("right", False), ("wrong", True)):
        submit(root, student, ASSIGNMENT, {"exercises.ipynb": answered(release, wrong)})
    return root


def expected_messages() -> dict[str, str]:
    """The wrong student's two failures, as the checker words them in this process."""
    return {
        "test_mul_backward": failure(
            lambda: assert_gradient([4.5, -3.0], lambda x, y: x * y, 2.0, -3.0, grad_output=1.5)
        ),
        "test_pair": failure(lambda: returned(None, "a", "b")),
    }


@pytest.mark.nbgrader
def test_stock_nbgrader_stores_the_clean_message_and_scores_as_before(small_course, tmp_path):
    """``nbgrader autograde`` keeps the error outputs (a failed check scores 0, a passed one full marks);
    ``nbgrader generate_feedback`` shows the message and its diagnosis, no checker frame, no path."""
    class_dir = tmp_path / "class"
    shutil.copytree(small_course, class_dir)
    nbgrader("autograde", ASSIGNMENT, cwd=class_dir)
    nbgrader("generate_feedback", ASSIGNMENT, cwd=class_dir)
    assert cell_scores(class_dir, ASSIGNMENT, "right") == {"test_mul_backward": (2, 2), "test_pair": (1, 1)}
    assert cell_scores(class_dir, ASSIGNMENT, "wrong") == {"test_mul_backward": (0, 2), "test_pair": (0, 1)}

    graded = nbformat.read(class_dir / "autograded" / "wrong" / ASSIGNMENT / "exercises.ipynb", as_version=4)
    errors = {
        cell.metadata["nbgrader"]["grade_id"]: [o for o in cell.outputs if o.output_type == "error"]
        for cell in graded.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }
    expected = expected_messages()
    for grade_id, message in expected.items():
        assert len(errors[grade_id]) == 1, errors[grade_id]
        assert_clean(errors[grade_id][0], message)

    page = (class_dir / "feedback" / "wrong" / ASSIGNMENT / "exercises.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for message in expected.values():
        for line in message.strip().splitlines():
            assert line in text, f"the feedback page lacks {line!r}"
    assert "부호가 반대" in text and "sign is flipped" in text
    assert "checker.py" not in text and "site-packages" not in text and "Traceback (most" not in text


@pytest.mark.grading
def test_course_grade_keeps_the_message_and_the_scores(small_course, tmp_path):
    """``course grade`` on the same submissions: nbgrader's scores, and the checker's own message."""
    import json

    class_dir = tmp_path / "class"
    shutil.copytree(small_course, class_dir)
    course("grade", ASSIGNMENT, "--cell-timeout", "30", "--timeout", "120", cwd=class_dir, check=True)
    assert cell_scores(class_dir, ASSIGNMENT, "right") == {"test_mul_backward": (2, 2), "test_pair": (1, 1)}
    assert cell_scores(class_dir, ASSIGNMENT, "wrong") == {"test_mul_backward": (0, 2), "test_pair": (0, 1)}
    result = json.loads((class_dir / "course_results" / ASSIGNMENT / "wrong.json").read_text())
    cells = {c["grade_id"]: c for c in result["notebooks"]["exercises"]["cells"]}
    for grade_id, message in expected_messages().items():
        assert cells[grade_id]["messages"] == [message.strip()], cells[grade_id]
