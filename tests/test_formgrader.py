"""A free-text answer graded by hand in nbgrader's formgrader, in Chromium, and kept by everything after it.

A student hands in unit 2 with every answer written; ``course grade`` scores the tests and leaves the two
written explanations to the instructor. The instructor opens formgrader in a tab of its own (as on a hub,
where JupyterLab's frame cannot show it), types a score for one explanation, and that score is then kept by
``course grade --force``, and reaches ``course export`` (nbgrader's CSV and Canvas's).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import classes
from tests.test_browser import ARTIFACTS, Page, free_port, start_chromium, stop_server, wait_for_server

pytestmark = [pytest.mark.browser, pytest.mark.grading]

ASSIGNMENT = "unit02"
WRITTEN = "batch_test_points_explanation"  # a markdown answer graded by hand (2 points)
GIVEN = 1.5
LIMITS = ["--cell-timeout", "30", "--timeout", "300"]


def manual(class_dir: Path) -> tuple[float | None, float]:
    """The written answer's manual score, and the student's total, as the gradebook has them."""
    with classes.gradebook(class_dir) as gb:
        grade = gb.find_grade(WRITTEN, "exercises", ASSIGNMENT, "carol")
        return grade.manual_score, gb.find_submission(ASSIGNMENT, "carol").score


def test_a_grade_given_in_formgrader_is_kept_and_exported(tmp_path, class_cache):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    class_dir = classes.new_class(tmp_path / "class", [ASSIGNMENT], class_cache)
    classes.submit(class_dir, "carol", ASSIGNMENT, {"exercises.ipynb": classes.answered(ASSIGNMENT)})
    classes.course("grade", ASSIGNMENT, *LIMITS, cwd=class_dir, check=True)
    score, auto_total = manual(class_dir)
    assert score is None, "a written answer waits for the instructor"

    home = tmp_path / "home"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    port, token = free_port(), "formgrader-test-token"
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "jupyterlab.log"
    command = [sys.executable, "-m", "autograder.cli", "lab", "--instructor", "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(
            [*command, "--no-browser", f"--IdentityProvider.token={token}"],
            cwd=class_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    browser = None
    try:
        wait_for_server(server, url, token, log)
        with classes.gradebook(class_dir) as gb:
            submission = gb.find_submission_notebook("exercises", ASSIGNMENT, "carol").id
        browser = start_chromium(tmp_path / "chromium")
        page = Page(browser, None)
        # formgrader in a tab of its own, after logging in (its pages' API calls need the login cookie):
        # its gradebook page lists the submission, which opens for grading
        browser.get(f"{url}/login?next=/formgrader/gradebook/{ASSIGNMENT}/exercises")
        page.wait(lambda: browser.find_elements(By.CSS_SELECTOR, "input[type=password]"), "the login page")
        browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(token, Keys.ENTER)
        page.wait(
            lambda: browser.find_elements(
                By.CSS_SELECTOR, f"a[href*='/formgrader/submissions/{submission}']"
            ),
            "formgrader lists the submission",
            timeout=120,
        )
        browser.find_element(By.CSS_SELECTOR, f"a[href*='/formgrader/submissions/{submission}']").click()
        page.wait(
            lambda: browser.find_elements(By.ID, WRITTEN), "the written answer's score field", timeout=120
        )
        field = browser.find_element(By.ID, WRITTEN)
        page.scroll(field)
        field.clear()
        field.send_keys(str(GIVEN), Keys.TAB)
        page.wait(
            lambda: manual(class_dir)[0] == GIVEN, "formgrader saves the score in the gradebook", timeout=60
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "formgrader-manual-grade.png"))
    finally:
        if browser is not None:
            browser.quit()
        stop_server(server, url, token)

    score, total = manual(class_dir)
    assert (score, total) == (GIVEN, auto_total + GIVEN)
    # regrading everything keeps the instructor's score
    classes.course("grade", ASSIGNMENT, "--force", *LIMITS, cwd=class_dir, check=True)
    assert manual(class_dir) == (GIVEN, auto_total + GIVEN)
    # and both exports carry it
    classes.course("export", "--to", "grades.csv", cwd=class_dir, check=True)
    with open(class_dir / "grades.csv", newline="") as f:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert exported["carol"] == auto_total + GIVEN
    classes.course("export", "--format", "canvas", "--to", "canvas.csv", cwd=class_dir, check=True)
    with open(class_dir / "canvas.csv", newline="", encoding="utf-8") as f:
        rows = {row["SIS Login ID"]: row for row in csv.DictReader(f)}
    assert float(rows["carol"][ASSIGNMENT]) == auto_total + GIVEN
