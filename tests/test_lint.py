"""The project's Python follows one style: ruff's lint rules and formatter (configured in pyproject.toml)."""

import subprocess
import sys

from tests.conftest import ROOT

PATHS = ["autograder", "tests", "benchmarks", "img/figures.py", "nbgrader_config.py"]


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *PATHS], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_lint():
    done = ruff("check", "--output-format", "concise")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format():
    done = ruff("format", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
