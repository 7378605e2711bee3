"""A real browser uses the course as a student does: Debian's headless Chromium, driven by Selenium.

`course lab` serves a scratch copy of the course on 127.0.0.1. The browser

- opens the Korean lecture of unit 1 and runs every cell from the Run menu: every code cell runs, no cell
  shows an error or anything on stderr, every figure and formula is rendered and the page is in Korean;
- types the right answer to the first exercise of the released assignment into its editor and runs the
  visible test (the checker's pass message), then a wrong one (its diagnosis, in Korean and in English);
- uses nbgrader's JupyterLab extension: the Validate button (success on a solved notebook, the bilingual
  diagnosis on a wrong one) and the Assignment List (a released assignment is fetched and submitted);
- sees a student's lab: none of nbgrader's instructor tools, and no prompt about Jupyter's news;
- on `course lab --lang ko`, sees JupyterLab's menus in Korean and, on the same screen, a failed check's
  Korean message and diagnosis with nothing of the checker (no frame, no file path);
- runs `Graph.watch()` on unit 1's fork, moves its slider with the keyboard and sees the gradient of x
  appear, as the sum of both branches, in the frame and in the widget's text.

Screenshots, the server's log and the browser console go to test-artifacts/browser/.
Run these tests alone with `python -m pytest -m browser`; CI installs Chromium and ChromeDriver (.ci/run).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.checker import ATOL, RTOL
from autograder.messages import render
from autograder.plotting import korean_font_path
from tests import classes
from tests.classes import exercise_titles
from tests.conftest import ROOT, copy_course
from tests.test_clean_failures import PATH

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by the `browser` fixture, with the fix
    webdriver = None

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = (
    "install Debian's Chromium and its driver: `sudo apt-get install chromium chromium-driver` "
    "(.ci/run does it on a fresh machine)"
)
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# `COURSE_SCREENSHOTS=1 python -m pytest -m browser` also refreshes the README's screenshots from the run
README_SHOTS = {
    "unit01-lecture-ko-figure": "lecture-ko.png",
    "unit01-assignment-wrong-sign-diagnosed": "assignment-diagnosis.png",
    "nbgrader-validate-success": "nbgrader-validate.png",
    "self-check-in-notebook": "self-check.png",
    "feedback-page": "feedback.png",
    "korean-lab-check-failed": "lab-ko-check-failed.png",
    "watch-backprop-fork": "watch-backprop.png",
}
SCREENSHOTS = ROOT / "docs" / "screenshots"
WAIT = 60  # seconds for the page to react
KERNEL_WAIT = 180  # seconds for work done by a kernel (the machine may be shared and slow)

LECTURE = "notebooks/ko/unit01_computation_graphs.ipynb"
ASSIGNMENT = "release/unit01/exercises.ipynb"
KOREAN_WORK = "work/unit01/exercises.ipynb"  # `course start unit01 --lang ko`
SOURCE = "source/unit01/exercises.ipynb"
EXERCISE = "mul_gate_backward"  # the first exercise: z = x · y, test point x = 2, y = -3, upstream 1.5
UPSTREAM = 1.5
Y = -3.0  # ∂L/∂x = upstream · y at the visible test point
PANEL = "#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the current tab
NUMBERED = re.compile(r"\[\d+\]:")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]+\)|<img\b")


# ----------------------------------------------------------------------------------- the course server


@dataclass
class Lab:
    url: str
    token: str
    course: Path
    exchange: Path
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(server: subprocess.Popen, url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"`course lab` exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer on {url} within 120 s:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut JupyterLab down (it stops its kernels), then end the whole process group."""
    try:
        request = urllib.request.Request(
            f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        urllib.request.urlopen(request, timeout=5).close()
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


_cleaned = False


def clean_artifacts_once() -> None:
    """Empty test-artifacts/browser/ before this run's first file there (on xdist's first worker)."""
    global _cleaned
    if not _cleaned and os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    _cleaned = True


@contextlib.contextmanager
def course_lab(base: Path, *options: str, log_name: str, before_ready=None) -> Iterator[Lab]:
    """`course lab OPTIONS` on a scratch copy of the course in ``base``; ``before_ready(course, env)``
    runs while JupyterLab starts.

    Every file JupyterLab, nbgrader and IPython write (settings, workspaces, runtime, the exchange,
    fetched and submitted work) stays in temporary folders: the course in the repository is not touched.
    """
    clean_artifacts_once()
    course = copy_course(base / "course").root
    home, exchange = base / "home", base / "exchange"
    exchange.mkdir()
    # Students see the checker in both languages unless they choose one (`--lang`): no COURSE_LANG here.
    env = {key: value for key, value in os.environ.items() if key != "COURSE_LANG"}
    env |= {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    # No settings of the student's own: `course lab` alone keeps the news prompt away (and nbgrader's
    # instructor tools) and sets the interface language, as it must on a student's fresh machine.
    # Where a class's nbgrader exchange would be (nbgrader reads it from the Jupyter config folder).
    (home / "config").mkdir(parents=True)
    (home / "config" / "nbgrader_config.py").write_text(f"c.Exchange.root = {str(exchange)!r}\n")

    port, token = free_port(), "browser-test-token"
    url = f"http://127.0.0.1:{port}"
    log = base / "jupyterlab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.cli",
                "lab",
                *options,
                "--port",
                str(port),
                "--no-browser",
                f"--IdentityProvider.token={token}",
            ],
            cwd=course,  # `course lab` is run in the course folder, where nbgrader finds its config
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if before_ready is not None:
            before_ready(course, env)
        wait_for_server(server, url, token, log)
        yield Lab(url, token, course, exchange, log)
    finally:
        stop_server(server, url, token)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        shutil.copyfile(log, ARTIFACTS / (f"{log_name}-{worker}.log" if worker else f"{log_name}.log"))


def release_unit01(course: Path, env: dict) -> None:
    """The instructor releases unit01 into the exchange (real nbgrader)."""
    for command in (["db", "assignment", "add", "unit01"], ["release_assignment", "unit01"]):
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", *command], cwd=course, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """`course lab` (the checker in both languages), with unit01 released in an nbgrader exchange."""
    with course_lab(
        tmp_path_factory.mktemp("browser"), log_name="jupyterlab", before_ready=release_unit01
    ) as lab:
        yield lab


def start_unit01_in_korean(course: Path, env: dict) -> None:
    """A Korean student's copy of unit01, as the README says: `course start unit01 --lang ko`."""
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "start", "unit01", "--lang", "ko"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and (course / KOREAN_WORK).is_file(), done.stdout + done.stderr


@pytest.fixture(scope="module")
def korean_lab(tmp_path_factory) -> Iterator[Lab]:
    """`course lab --lang ko` (JupyterLab's interface and the checker's messages in Korean), with a
    Korean student's copy of unit01 in work/."""
    base = tmp_path_factory.mktemp("browser-ko")
    with course_lab(
        base, "--lang", "ko", log_name="jupyterlab-ko", before_ready=start_unit01_in_korean
    ) as lab:
        yield lab


# ------------------------------------------------------------------------------------------ the browser


def start_chromium(base: Path, system_fonts: bool = True) -> webdriver.Chrome:
    """Headless Chromium from Debian's packages; it reaches nothing but 127.0.0.1. Its fonts: the
    system's and NanumGothic, or (``system_fonts=False``) NanumGothic alone, as on a reader's machine
    whose only fonts are Korean ones (they draw U+005C, the backslash, as the won sign ₩)."""
    if webdriver is None:
        pytest.fail('selenium is not installed: python -m pip install -e ".[test]"')
    clean_artifacts_once()
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: {INSTALL}")
    # Korean text needs a Korean font; the course's own NanumGothic (from PyPI) serves, no system font needed.
    base.mkdir(parents=True, exist_ok=True)
    fonts = base / "fonts.conf"
    system = '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n' if system_fonts else ""
    fonts.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"{system}"
        f"  <dir>{korean_font_path().parent}</dir>\n"
        f"  <cachedir>{base / 'fontconfig-cache'}</cachedir>\n</fontconfig>\n"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # any other host fails to resolve
        f"--user-data-dir={base / 'profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which downloads drivers) is never run.
    service = Service(str(CHROMEDRIVER), env={**os.environ, "FONTCONFIG_FILE": str(fonts)})
    try:
        return webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        pytest.fail(f"Chromium did not start through ChromeDriver ({error.msg}); {INSTALL}")


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Iterator[webdriver.Chrome]:
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.quit()


class Page:
    """The browser on JupyterLab: real clicks and keystrokes to act, the DOM to read what is shown."""

    workspaces = 0  # each page opened gets a new, empty JupyterLab workspace

    def __init__(self, driver: webdriver.Chrome, lab: Lab) -> None:
        self.driver, self.lab = driver, lab

    def wait(self, condition, message: str, timeout: float = WAIT, state=None):
        """Wait until ``condition()`` is true; else fail saying ``message`` and, if given, ``state()``."""
        try:
            return WebDriverWait(
                self.driver, timeout, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
            ).until(lambda _: condition(), message=message)
        except TimeoutException as error:
            seen = f"; the page shows {state()}" if state else ""
            raise AssertionError(f"not done after {timeout} s: {message}{seen}") from error

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        if os.environ.get("COURSE_SCREENSHOTS") and name in README_SHOTS:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SCREENSHOTS / README_SHOTS[name])
        return path

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def scroll(self, element: WebElement) -> None:
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)

    # ------------------------------------------------------------------------------------ navigating

    def open(self, path: str = "") -> None:
        """Open JupyterLab on ``path`` (a notebook) in a workspace of its own: no tabs left by other tests."""
        Page.workspaces += 1
        where = f"/lab/workspaces/test{Page.workspaces}" + (f"/tree/{path}" if path else "")
        self.driver.get(f"{self.lab.url}{where}?token={self.lab.token}")
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item"), "JupyterLab loads")

    def open_notebook(self, path: str) -> list[WebElement]:
        """Open a notebook of the course; its cells, once every one of them is on the page."""
        count = len(nbformat.read(self.lab.course / path, as_version=4).cells)
        self.open(path)
        self.wait(lambda: len(self.cells()) == count, f"{path} shows its {count} cells")
        return self.cells()

    def cells(self) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-Cell")

    def menu(self, label: str, command: str) -> None:
        """Click ``label`` in the menu bar, then the menu item that runs ``command``."""
        self.click(f"//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='{label}']", f"menu {label}")
        self.click(f"//li[contains(@class, 'lm-Menu-item') and @data-command='{command}']", command)

    def toolbar_button(self, label: str) -> WebElement:
        """The button labelled ``label`` in the current notebook's toolbar."""
        css = f"{PANEL} .jp-Toolbar .jp-ToolbarButtonComponent"
        found = self.wait(
            lambda: [
                b
                for b in self.driver.find_elements(By.CSS_SELECTOR, css)
                if b.get_attribute("textContent").strip() == label
            ],
            f"the notebook toolbar has a {label} button",
        )
        return found[0]

    def click(self, xpath: str, what: str) -> None:
        """Click the element at ``xpath`` once it is shown, enabled and not covered (lists redraw themselves
        meanwhile; a notice shown as the kernel starts can lie over the menu bar for a moment)."""

        def clicked() -> bool:
            found = [
                e for e in self.driver.find_elements(By.XPATH, xpath) if e.is_displayed() and e.is_enabled()
            ]
            if not found:
                return False
            try:
                found[0].click()
            except ElementClickInterceptedException:
                self.answer_kernel_choice()
                return False  # covered: tried again until the wait's time is up
            return True

        self.wait(clicked, f"{what} can be clicked")

    def answer_kernel_choice(self) -> bool:
        """Take JupyterLab's own choice in a "Select Kernel" dialog, if one is open. Now and then, with both
        cores busy, JupyterLab raises it for a notebook that names its kernel, after its kernel started; it
        covers the menu bar until answered, and what it has chosen is the notebook's own kernel."""
        buttons = self.driver.find_elements(
            By.XPATH,
            "//div[contains(@class, 'jp-Dialog') and .//select]//button[contains(@class, 'jp-mod-accept')]",
        )
        for button in buttons:
            button.click()
        return bool(buttons)

    def texts(self, css: str) -> list[str]:
        """The text of every element matching ``css``, read at one moment."""
        return self.js(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)", css
        )

    def dialog(self) -> WebElement:
        found = self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"), "a dialog opens")
        return found[0]

    # ---------------------------------------------------------------------------------------- cells

    def kernel_status(self) -> str:
        """The notebook toolbar's kernel indicator: idle, busy, ..."""
        return self.js(
            f"return document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator')?.dataset.status"
        )

    def prompt(self, cell: WebElement) -> str:
        return self.js("return arguments[0].querySelector('.jp-InputPrompt').textContent.trim()", cell)

    def prompts(self) -> list[str]:
        return self.js(
            f"return Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt'))"
            ".map(p => p.textContent.trim())"
        )

    def editor_text(self, cell: WebElement) -> str:
        return self.js(
            "return Array.from(arguments[0].querySelectorAll('.cm-content .cm-line'))"
            ".map(line => line.textContent).join('\\n')",
            cell,
        )

    def outputs(self, cell: WebElement | None = None) -> list[tuple[str, str]]:
        """(MIME type, text) of every output shown, in ``cell`` or in the whole notebook."""
        return self.js(
            "const root = arguments[0] || document.querySelector(arguments[1]);"
            "return Array.from(root.querySelectorAll('.jp-OutputArea-output'))"
            ".map(o => [o.getAttribute('data-mime-type'), o.textContent]);",
            cell,
            PANEL,
        )

    def run_cell(self, cell: WebElement) -> None:
        """Select ``cell`` by its prompt and run it with Ctrl+Enter; wait for its new execution count."""
        before = self.prompt(cell)
        self.scroll(cell)
        cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        self.wait(
            lambda: NUMBERED.fullmatch(self.prompt(cell)) and self.prompt(cell) != before,
            f"the cell runs (its prompt was {before})",
            KERNEL_WAIT,
        )

    def type_into(self, cell: WebElement, text: str) -> None:
        """Replace the code in ``cell`` by typing ``text`` into its editor, key by key."""
        self.scroll(cell)
        cell.find_element(By.CSS_SELECTOR, ".cm-content").click()
        keys = ActionChains(self.driver)
        keys.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
        for number, line in enumerate(text.split("\n")):
            keys = ActionChains(self.driver)
            if number:
                # Enter makes the editor indent the new line; select that indentation so that the typed
                # line, with its own indentation, replaces it.
                keys.send_keys(Keys.ENTER).key_down(Keys.SHIFT).send_keys(Keys.HOME).key_up(Keys.SHIFT)
            if line:
                keys.send_keys(line)
            keys.perform()
        typed = "\n".join(line.rstrip() for line in self.editor_text(cell).split("\n"))
        assert typed == text, f"the editor holds\n{typed}\ninstead of\n{text}"


@pytest.fixture()
def page(driver, lab, request) -> Iterator[Page]:
    """The browser on `course lab` for one test."""
    yield from browsing(driver, lab, request)


@pytest.fixture()
def korean_page(driver, korean_lab, request) -> Iterator[Page]:
    """The browser on `course lab --lang ko` for one test."""
    yield from browsing(driver, korean_lab, request)


def browsing(driver, lab: Lab, request) -> Iterator[Page]:
    """A page on ``lab``; a screenshot when the test fails, the console saved either way."""
    failed = request.session.testsfailed
    page = Page(driver, lab)
    yield page
    if request.session.testsfailed > failed:
        page.shot(f"FAILED-{request.node.name}")
    console = driver.get_log("browser")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"console-{request.node.name}.log").write_text(
        "".join(f"{e['level']} {e['message']}\n" for e in console), encoding="utf-8"
    )
    outside = [e["message"] for e in console if "ERR_NAME_NOT_RESOLVED" in e["message"]]
    assert not outside, f"the page tried to reach a host other than 127.0.0.1: {outside}"


# ------------------------------------------------------------------------------------------- notebooks


def grade_ids(nb) -> list[str | None]:
    return [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]


def answers(course: Path) -> dict[str, str]:
    """Each exercise's answer as a student writes it: the source's solution without nbgrader's markers."""
    source = nbformat.read(course / SOURCE, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: "\n".join(
            line
            for line in cell.source.split("\n")
            if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
        )
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def sign_flipped(answer: str) -> str:
    """The multiply gate's answer with both gradients' signs flipped: the mistake the test must diagnose."""
    wrong = answer.replace("upstream * ", "-upstream * ")
    assert wrong.count("-upstream") == 2, answer
    return wrong


def diagnosis(lang: str, name: str) -> str:
    """The checker's message for the sign-flipped multiply gate at the visible test point (messages.toml)."""
    return render(
        "mismatch_scalar",
        lang,
        name=name,
        expected=UPSTREAM * Y,
        given=-UPSTREAM * Y,
        max_error=abs(2 * UPSTREAM * Y),
        rtol=RTOL,
        atol=ATOL,
    )


def passed(lang: str, name: str) -> str:
    return render("passed", lang, name=name, max_error=0.0)


def write_answered(course: Path, name: str, wrong_first: bool = False) -> str:
    """A copy of the release, every exercise answered (the first one wrong if asked); its path."""
    nb = nbformat.read(course / ASSIGNMENT, as_version=4)
    solutions = answers(course)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[grade_id]
            if wrong_first and grade_id == EXERCISE:
                cell.source = sign_flipped(cell.source)
    path = Path(ASSIGNMENT).with_name(name).as_posix()
    nbformat.write(nb, course / path)
    return path


# ----------------------------------------------------------------------------------------------- tests


def test_korean_lecture_runs_with_every_figure(page):
    """Run → Run All Cells on the Korean lecture: no error, every figure and formula shown, Korean text."""
    nb = nbformat.read(page.lab.course / LECTURE, as_version=4)
    prose = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    formulas = sum(len(MATH.findall(re.sub(r"`[^`]*`", "", text))) for text in prose)
    images = sum(len(IMAGE.findall(text)) for text in prose)
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)

    page.open_notebook(LECTURE)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    heading = page.wait(
        lambda: page.js(f"return document.querySelector('{PANEL} .jp-MarkdownOutput h1')?.textContent"),
        "the lecture's title is rendered",
    )
    assert title in heading and re.search("[가-힣]", heading), heading
    page.shot("unit01-lecture-ko-opened")

    page.menu("Run", "runmenu:run-all")

    def finished() -> bool:  # every cell has run, or an error stopped the run and nothing is left queued
        prompts = page.prompts()
        if all(NUMBERED.fullmatch(p) for p in prompts):
            return True
        errors = any(mime == "application/vnd.jupyter.stderr" for mime, _ in page.outputs())
        return errors and "[*]:" not in prompts

    page.wait(finished, "Run All Cells finishes", KERNEL_WAIT, state=page.prompts)
    page.wait(lambda: page.kernel_status() == "idle", "the kernel is idle", KERNEL_WAIT)
    outputs = page.outputs()
    stderr = [text for mime, text in outputs if mime == "application/vnd.jupyter.stderr"]
    assert not stderr, "a cell shows an error or writes to stderr:\n" + "\n".join(stderr)
    prompts = page.prompts()
    assert prompts == [f"[{n}]:" for n in range(1, code_cells + 1)], (
        f"every code cell runs, in order (a cell left at [ ] follows an error): {prompts}"
    )
    shown = "\n".join(text for _, text in outputs)
    assert "loss = 1.0" in shown and "w.grad = -2.0" in shown, "the seed's loss 1 and ∂loss/∂w = −2"

    # Figures: the markdown's SVG images and any plot a cell draws, each loaded and decoded.
    pictures = page.driver.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-Cell img")
    in_prose = page.driver.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-MarkdownCell img")
    assert len(in_prose) == images, f"{images} images in the lecture's markdown, {len(in_prose)} on the page"
    for picture in pictures:
        page.scroll(picture)
        page.wait(lambda p=picture: page.js("return arguments[0].complete", p), "an image finishes loading")
    broken = [p.get_attribute("src") for p in pictures if not page.js("return arguments[0].naturalWidth", p)]
    assert not broken, f"images that do not load: {broken}"
    page.wait(
        lambda: page.js(f"return document.querySelectorAll('{PANEL} mjx-container').length") == formulas,
        f"MathJax typesets the lecture's {formulas} formulas",
    )
    assert not page.driver.find_elements(By.CSS_SELECTOR, f"{PANEL} mjx-merror"), "a formula fails to typeset"

    page.scroll(in_prose[0])
    page.shot("unit01-lecture-ko-figure")
    page.scroll(in_prose[-1])
    page.shot("unit01-lecture-ko-fork")


def test_assignment_checker_passes_then_diagnoses_in_both_languages(page):
    """A student types the first exercise's answer, runs its test: ✔; then a sign slip: the diagnosis."""
    release = nbformat.read(page.lab.course / ASSIGNMENT, as_version=4)
    ids = grade_ids(release)
    assert "raise NotImplementedError" in release.cells[ids.index(EXERCISE)].source
    answer = answers(page.lab.course)[EXERCISE]

    cells = page.open_notebook(ASSIGNMENT)
    setup, solution, test = (cells[ids.index(name)] for name in ("setup", EXERCISE, f"test_{EXERCISE}"))
    page.wait(lambda: "raise NotImplementedError" in page.editor_text(solution), "the exercise shows a stub")
    page.run_cell(setup)

    page.type_into(solution, answer)
    page.run_cell(solution)
    page.run_cell(test)
    expected = [passed(lang, name) for name in ("∂L/∂x", "∂L/∂y") for lang in ("ko", "en")]
    page.wait(
        lambda: all(line in "\n".join(text for _, text in page.outputs(test)) for line in expected),
        f"the test cell prints {expected}",
        state=lambda: page.outputs(test),
    )
    assert all(mime != "application/vnd.jupyter.stderr" for mime, _ in page.outputs(test))
    page.scroll(test)
    page.shot("unit01-assignment-correct-answer-passes")

    page.type_into(solution, sign_flipped(answer))
    page.run_cell(solution)
    page.run_cell(test)
    expected = [diagnosis(lang, "∂L/∂x") for lang in ("ko", "en")]
    page.wait(
        lambda: any(
            mime == "application/vnd.jupyter.stderr" and all(line in text for line in expected)
            for mime, text in page.outputs(test)
        ),
        f"the test cell fails with the diagnosis {expected}",
        state=lambda: page.outputs(test),
    )
    assert not any("✔" in text for _, text in page.outputs(test)), "no pass message is left over"
    assert_shows_no_checker(failure_text(page, test))
    page.scroll(test)
    page.shot("unit01-assignment-wrong-sign-diagnosed")


def failure_text(page: Page, cell: WebElement) -> str:
    """The text of the error output ``cell`` shows (JupyterLab gives it the stderr MIME type)."""
    shown = [text for mime, text in page.outputs(cell) if mime == "application/vnd.jupyter.stderr"]
    assert len(shown) == 1, page.outputs(cell)
    return shown[0]


def assert_shows_no_checker(text: str) -> None:
    """A failed check as the student sees it: ``CheckFailed`` and the message, no frame, no path."""
    assert text.startswith("CheckFailed"), text
    assert "checker.py" not in text and "Traceback" not in text and "File " not in text, text
    assert not PATH.search(text), f"a file path in the failure: {text}"


# JupyterLab's menu bar as the Korean language pack labels it
KOREAN_MENUS = ("파일", "편집", "보기", "실행", "커널", "탭", "설정", "도움말")


def test_korean_lab_shows_korean_menus_and_a_korean_failure_on_one_screen(korean_page):
    """`course lab --lang ko`: JupyterLab's menus in Korean (the language pack, chosen by a settings
    override, not the system locale), nbgrader's own labels in English (its extension is not translated),
    and, in the Korean copy of unit01 (`course start unit01 --lang ko`), a sign slip whose test fails with
    the Korean message and diagnosis alone, on the same screen."""
    page = korean_page
    ids = grade_ids(nbformat.read(page.lab.course / KOREAN_WORK, as_version=4))
    cells = page.open_notebook(KOREAN_WORK)
    setup, solution, test = (cells[ids.index(name)] for name in ("setup", EXERCISE, f"test_{EXERCISE}"))
    bar = ".lm-MenuBar-itemLabel"
    page.wait(lambda: "파일" in page.texts(bar), "the menu bar is in Korean", state=lambda: page.texts(bar))
    menus = page.texts(bar)
    assert all(label in menus for label in KOREAN_MENUS), menus
    assert not {"File", "Edit", "Run", "Kernel"} & set(menus), menus
    assert "Nbgrader" in menus and page.toolbar_button("Validate"), "nbgrader's labels are its own"

    page.run_cell(setup)
    page.type_into(solution, sign_flipped(answers(page.lab.course)[EXERCISE]))
    page.run_cell(solution)
    page.run_cell(test)
    korean = diagnosis("ko", "∂L/∂x")
    page.wait(
        lambda: any(korean in text for _, text in page.outputs(test)),
        f"the test cell fails with {korean}",
        KERNEL_WAIT,
        state=lambda: page.outputs(test),
    )
    shown = failure_text(page, test)
    assert_shows_no_checker(shown)
    assert "부호가 반대" in shown, "the diagnosis is shown"
    assert diagnosis("en", "∂L/∂x") not in shown and "wrong value" not in shown, "one language"

    error = test.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type*='stderr']")
    page.scroll(error)
    on_screen = page.js(
        "return Array.from(arguments).every(e => { const r = e.getBoundingClientRect();"
        "  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })",
        error,
        page.driver.find_element(By.CSS_SELECTOR, ".lm-MenuBar"),
    )
    assert on_screen, "the Korean menus and the failure are on one screen"
    page.shot("korean-lab-check-failed")


def test_nbgrader_validate_button(page):
    """nbgrader's Validate button (its JupyterLab extension) runs the saved notebook in a kernel."""
    solved = write_answered(page.lab.course, "exercises-solved.ipynb")
    page.open_notebook(solved)
    page.toolbar_button("Validate").click()
    dialog = page.dialog()
    page.wait(
        lambda: "nbgrader-SuccessDialog" in dialog.get_attribute("class"), "validation succeeds", KERNEL_WAIT
    )
    assert "Success! Your notebook passes all the tests." in dialog.text
    page.shot("nbgrader-validate-success")
    dialog.find_element(By.CSS_SELECTOR, "button.jp-mod-accept").click()

    wrong = write_answered(page.lab.course, "exercises-wrong-sign.ipynb", wrong_first=True)
    page.open_notebook(wrong)
    page.toolbar_button("Validate").click()
    dialog = page.dialog()
    page.wait(
        lambda: "nbgrader-ErrorDialog" in dialog.get_attribute("class"), "validation fails", KERNEL_WAIT
    )
    message = dialog.find_element(By.ID, "validation-message").get_attribute("textContent")
    assert "The following cell failed" in message
    for lang in ("ko", "en"):
        assert diagnosis(lang, "∂L/∂x") in message, message
    page.shot("nbgrader-validate-wrong-sign")
    dialog.find_element(By.CSS_SELECTOR, "button.jp-mod-accept").click()


def test_self_check_from_inside_the_notebook(page):
    """``show()`` in a cell runs the saved notebook the grader's way and prints the table of exercises."""
    wrong = write_answered(page.lab.course, "exercises-self-check.ipynb", wrong_first=True)
    cells = page.open_notebook(wrong)
    last = cells[-1]
    page.scroll(last)
    last.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
    ActionChains(page.driver).send_keys(Keys.ESCAPE).send_keys("b").perform()  # a new cell below
    page.wait(lambda: len(page.cells()) == len(cells) + 1, "a cell is added at the end")
    new = page.cells()[-1]
    page.type_into(new, "from autograder.selfcheck import show; show()")
    page.run_cell(new)
    page.wait(
        lambda: "Total: 15 / 16 points" in "\n".join(text for _, text in page.outputs(new)),
        "the self-check table is printed",
        KERNEL_WAIT,
        state=lambda: page.outputs(new),
    )
    table = "\n".join(text for _, text in page.outputs(new))
    title = " · ".join(
        exercise_titles(nbformat.read(page.lab.course / wrong, as_version=4), lang)[f"test_{EXERCISE}"]
        for lang in ("ko", "en")
    )
    assert re.search(rf"✘ {re.escape(title)}\s+0/1", table), table
    assert "합계: 15 / 16점" in table and "값이 다릅니다" in table and "wrong value" in table, table
    page.scroll(new)
    page.shot("self-check-in-notebook")


def listed(page: Page, kind: str, text: str = "unit01") -> bool:
    """Whether the Assignment List's ``kind`` list (released, fetched, submitted) shows ``text``."""
    return any(text in item for item in page.texts(f"#{kind}_assignments_list .list_item"))


def test_nbgrader_assignment_list_fetches_and_submits(page):
    """nbgrader's Assignment List: the released unit01 is fetched into the course folder, then submitted."""
    page.open()
    page.menu("Nbgrader", "nbgrader:open-assignment-list")
    page.wait(lambda: listed(page, "released"), "unit01 is listed as released")
    page.shot("nbgrader-assignment-list-released")

    page.click("//*[@id='released_assignments_list']//button[normalize-space(text())='Fetch']", "Fetch")
    page.wait(lambda: listed(page, "fetched"), "unit01 is listed as downloaded")
    assert (page.lab.course / "unit01" / "exercises.ipynb").is_file(), "Fetch puts unit01 in the course"
    page.click(
        "//*[@id='fetched_assignments_list']//a[contains(@class, 'assignment-notebooks-link')]", "unit01"
    )
    page.wait(lambda: listed(page, "fetched", "exercises"), "the downloaded unit01 lists its notebook")
    page.shot("nbgrader-assignment-list-fetched")

    page.click("//*[@id='fetched_assignments_list']//button[normalize-space(text())='Submit']", "Submit")
    page.wait(lambda: listed(page, "submitted"), "unit01 is listed as submitted")
    inbound = page.lab.exchange / "autograd-course" / "inbound"
    # the list can show "submitted" while nbgrader is still copying the files
    page.wait(lambda: any(inbound.glob("*+unit01+*/exercises.ipynb")), "the submission reaches the exchange")
    page.shot("nbgrader-assignment-list-submitted")


NEWS_PROMPT = "official Jupyter news"


def test_a_students_lab_has_no_instructor_tools_and_no_news_prompt(page):
    """`course lab` leaves out nbgrader's Formgrader, Create Assignment and Course List (a student's lab
    keeps the Assignment List and Validate), and JupyterLab never asks about fetching Jupyter's news."""
    page.open()
    page.wait(lambda: page.texts(".jp-DirListing-itemText"), "the file browser lists the course")
    page.click("//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='Nbgrader']", "menu Nbgrader")
    items = page.wait(lambda: page.texts(".lm-Menu .lm-Menu-itemLabel"), "the Nbgrader menu opens")
    page.shot("student-lab-nbgrader-menu")
    assert "Assignment List" in items, items
    assert not [i for i in items if "Formgrader" in i or "Course" in i or "Create" in i], items
    ActionChains(page.driver).send_keys(Keys.ESCAPE).perform()
    tabs = page.js(
        "return Array.from(document.querySelectorAll('.jp-SideBar .lm-TabBar-tab'))"
        ".map(t => (t.getAttribute('title') || '') + ' ' + t.textContent)"
    )
    assert tabs and not [t for t in tabs if "Create Assignment" in t], tabs
    assert not page.driver.find_elements(By.ID, "nbgrader-create_assignemnt")  # nbgrader's own id
    # JupyterLab asks within a second or two of starting; give it more than that
    time.sleep(6)
    shown = page.texts(".Toastify, .jp-Notification-Toast, .jp-Dialog")
    assert not [t for t in shown if NEWS_PROMPT in t], shown
    page.shot("student-lab-no-news-prompt")


# ---------------------------------------------------------------------------------------- feedback

FEEDBACK_LIMITS = ["--cell-timeout", "30", "--timeout", "300"]
BACKSLASH_COMMENT = "    # dL/dx = upstream \\cdot y, that is \\frac{\\partial L}{\\partial x}\n"


def backslash_fonts(page: Page) -> list[dict]:
    """The fonts Chromium draws the first backslash of the student's code with (DevTools' platform fonts
    of a span put around that one character)."""
    wrapped = page.js(
        "const cells = document.querySelectorAll('.jp-CodeCell .jp-InputArea');"
        "for (const cell of cells) {"
        "  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);"
        "  for (let node = walker.nextNode(); node; node = walker.nextNode()) {"
        "    const at = node.data.indexOf('\\\\');"
        "    if (at < 0) continue;"
        "    const rest = node.splitText(at); rest.splitText(1);"
        "    const probe = document.createElement('span'); probe.id = 'backslash-probe';"
        "    rest.parentNode.replaceChild(probe, rest); probe.appendChild(rest); return true;"
        "  }"
        "}"
        "return false;"
    )
    assert wrapped, "the student's code on the page has a backslash"
    page.driver.execute_cdp_cmd("DOM.enable", {})
    page.driver.execute_cdp_cmd("CSS.enable", {})
    root = page.driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = page.driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": "#backslash-probe"})
    return page.driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]


def test_feedback_page_reads_well(tmp_path, class_cache):
    """A student's feedback page (`course grade`, then `course feedback`) opened in Chromium on a machine
    whose only font is Korean: a plain-text title; the score, then every failure with its diagnosis,
    first; markdown and math rendered as JupyterLab renders them, with MathJax and the code font inlined
    (nothing fetched); one collapsed line per passed test; a backslash in code drawn as a backslash."""
    class_dir = classes.new_class(tmp_path / "class", ["unit01"], class_cache)
    released = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in classes.release_nb("unit01").cells
    }
    slip = sign_flipped(classes.solutions("unit01")[EXERCISE]).replace(
        "    dL_dx", BACKSLASH_COMMENT + "    dL_dx", 1
    )
    nb = classes.answered(
        "unit01", change={EXERCISE: slip, "self_power_backward": released["self_power_backward"]}
    )
    classes.submit(class_dir, "bob", "unit01", {"exercises.ipynb": nb})
    classes.course("grade", "unit01", *FEEDBACK_LIMITS, cwd=class_dir, check=True)
    classes.course("feedback", "unit01", cwd=class_dir, check=True)
    path = class_dir / "feedback" / "bob" / "unit01" / "exercises.html"
    prose = [c.source for c in nb.cells if c.cell_type == "markdown"]
    formulas = sum(len(MATH.findall(re.sub(r"`[^`]*`", "", text))) for text in prose)
    headings = sum(line.startswith("#") for text in prose for line in text.splitlines())
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("points")
    }
    total = sum(points.values())
    earned = total - points[f"test_{EXERCISE}"] - points["test_self_power_backward"]

    browser = start_chromium(tmp_path / "chromium", system_fonts=False)
    try:
        page = Page(browser, None)
        browser.get(path.as_uri())
        page.wait(
            lambda: page.js("return document.querySelectorAll('mjx-container').length") == formulas,
            f"MathJax typesets the page's {formulas} formulas",
            state=lambda: page.js("return document.querySelectorAll('mjx-container').length"),
        )
        assert browser.title == render("feedback_title", assignment="unit01", student="bob").replace(
            "\n", " · "
        )
        assert not browser.find_elements(By.CSS_SELECTOR, "mjx-merror"), "a formula fails to typeset"
        shown = page.js("return document.body.innerText")
        markdown = "\n".join(page.texts(".jp-MarkdownOutput"))
        raw = [mark for mark in ("$", "**", "\n## ", "\\frac", "\\partial") if mark in markdown]
        assert markdown and not raw, f"the prose shows {raw} as typed, not rendered"
        assert len(browser.find_elements(By.CSS_SELECTOR, ".jp-MarkdownOutput :is(h1, h2, h3)")) == headings

        # the score, then the failures with their diagnosis, before the notebook
        def top(css: str) -> float:
            return page.js("return document.querySelector(arguments[0]).getBoundingClientRect().top", css)

        assert top(".course-score") < top(".course-failures") < top(".course-passes") < top(".jp-Cell")
        assert f"Score: {earned:g} / {total:g}" in page.texts(".course-score")[0]
        failures = page.texts(".course-failures .course-check")
        assert len(failures) == 2, failures
        assert "1a." in failures[0] and "값이 다릅니다" in failures[0] and "wrong value" in failures[0]
        assert "아직 풀지 않았습니다" in failures[1] and "not started" in failures[1], failures[1]
        assert "NotImplementedError" not in "\n".join(page.texts(".course-check")), "the stub's error"

        # each passed test is one collapsed line, in the summary and in the notebook
        passed = len(points) - 2
        assert len(page.texts(".course-passes li")) == passed
        closed = browser.find_elements(
            By.CSS_SELECTOR, ".jp-Notebook .course-check.passed details:not([open])"
        )
        assert len(closed) == passed and not browser.find_elements(By.CSS_SELECTOR, "details[open]")
        # the text of a one-line verdict spans less than two of its own line boxes
        spans = page.js(
            "return Array.from(document.querySelectorAll('.course-check.passed summary, .course-passes li'))"
            ".map(e => { const r = document.createRange(); r.selectNodeContents(e);"
            "  const boxes = Array.from(r.getClientRects()).filter(b => b.height > 0);"
            "  const tall = Math.max(...boxes.map(b => b.height));"
            "  return (Math.max(...boxes.map(b => b.bottom)) - Math.min(...boxes.map(b => b.top))) / tall; })"
        )
        assert spans and all(span < 1.9 for span in spans), spans
        assert "largest error" not in shown, "a passed test's messages stay folded"

        # nothing came from the network: every resource is inlined
        fetched = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
        assert all(name.startswith(("data:", "file:")) for name in fetched), fetched

        fonts = backslash_fonts(page)
        assert fonts and all(f["isCustomFont"] and f["familyName"] == "DejaVu Sans Mono" for f in fonts), (
            fonts
        )
        document = browser.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
        mark = browser.execute_cdp_cmd("DOM.querySelector", {"nodeId": document, "selector": ".course-mark"})
        marks = browser.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": mark["nodeId"]})["fonts"]
        assert [f["familyName"] for f in marks] == ["DejaVu Sans"], f"✘ drawn with {marks}, not as a box"
        page.shot("feedback-page")
        console = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not console, console
    finally:
        browser.quit()


# ------------------------------------------------------------------------------------ watch backprop

WATCH_NOTEBOOK = "watch-fork.ipynb"
WATCH_CODE = """import torch
from autograder.graph import Graph

x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
y = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
q = x * y
f = q + x
Graph.from_tensor(f, x=x, y=y, q=q, f=f).watch()"""
FORK_SUM = "∂f/∂x = ∂f/∂q · ∂q/∂x + ∂f/∂f · ∂f/∂x = (1)(−2) + (1)(1) = −1"


def test_watch_backprop_slider_shows_a_gradient_appear(page):
    """`Graph.watch()` in JupyterLab: the ipywidgets slider renders (jupyterlab_widgets), not its static
    fallback; arrow keys on the slider step through the frames, and at the last one the frame's image is
    new and the widget's text shows ∂f/∂x as the sum of the two branches."""
    kernel = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    cells = [nbformat.v4.new_code_cell(WATCH_CODE)]
    nbformat.write(
        nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel}),
        page.lab.course / WATCH_NOTEBOOK,
    )
    page.open_notebook(WATCH_NOTEBOOK)

    def kernel_ready() -> bool:
        return not page.answer_kernel_choice() and page.kernel_status() == "idle"

    page.wait(kernel_ready, "the kernel has started", KERNEL_WAIT)

    def prompt() -> str:
        script = "return document.querySelector(arguments[0])?.textContent || ''"
        return page.js(script, f"{PANEL} .jp-InputPrompt")

    # Run All, not a click on the cell: the notebook redraws its cell while the kernel starts. A Run All given
    # just as the kernel settles can be dropped (the cell's prompt stays "[ ]:"): give it again, a few times
    for _ in range(3):
        page.menu("Run", "runmenu:run-all")
        with contextlib.suppress(AssertionError):
            page.wait(lambda: re.search(r"\[(\*|\d+)\]", prompt()), "the cell runs", 20)
            break
    view = f"{PANEL} .course-watch"
    page.wait(
        lambda: page.driver.find_elements(By.CSS_SELECTOR, f"{view} img"),
        "the widget renders its slider and frame",
        KERNEL_WAIT,
        state=page.outputs,
    )
    assert not page.driver.find_elements(By.CSS_SELECTOR, f"{PANEL} .course-watch-strip"), "not the fallback"
    assert page.driver.find_elements(By.CSS_SELECTOR, f"{view} .jupyter-widgets.widget-play, {view} button")

    def text() -> str:
        return page.js("return document.querySelector(arguments[0])?.textContent || ''", f"{view}-text")

    def image() -> str:
        return page.js("return document.querySelector(arguments[0])?.src || ''", f"{view} img")

    assert "x = 3" in text() and "∂f" not in text(), text()
    first = image()
    handle = page.driver.find_element(By.CSS_SELECTOR, f"{view} .noUi-handle")
    page.scroll(handle)
    page.js("arguments[0].focus()", handle)  # the slider's handle takes the arrow keys (noUiSlider)
    assert page.js("return document.activeElement === arguments[0]", handle), "the handle has the focus"
    for _ in range(7):  # eight frames: four forward, four backward; the last is the gradient at x
        ActionChains(page.driver).send_keys(Keys.ARROW_RIGHT).perform()
    page.wait(lambda: FORK_SUM in text(), f"the widget's text shows {FORK_SUM}", KERNEL_WAIT, state=text)
    page.wait(lambda: image() != first, "the frame's image changes")
    assert "역전파 4/4: 노드 x의 기울기" in text() and "backward pass 4/4" in text(), text()
    page.wait(
        lambda: page.js("return document.querySelector(arguments[0]).naturalWidth", f"{view} img") > 0,
        "the new frame is drawn",
    )
    page.js("arguments[0].scrollIntoView({block: 'start'})", page.driver.find_element(By.CSS_SELECTOR, view))
    page.shot("watch-backprop-fork")
