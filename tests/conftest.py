"""Shared fixtures: the course under test, and a scratch copy of it for commands that write."""

import shutil
from pathlib import Path

import pytest

from autograder.course import Course

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def course() -> Course:
    return Course(ROOT)


def copy_course(target: Path) -> Course:
    """A copy of the course's tracked content (no git, caches or nbgrader state) at ``target``."""
    ignore = shutil.ignore_patterns(
        ".git",
        "__pycache__",
        "*.egg-info",
        ".hypothesis",
        ".pytest_cache",
        "gradebook.db",
        "submitted",
        "autograded",
        "feedback",
        "test-artifacts",
        "course_results",
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return Course(target)


@pytest.fixture()
def scratch_course(tmp_path) -> Course:
    return copy_course(tmp_path / "course")


@pytest.fixture(scope="session")
def class_cache(tmp_path_factory) -> Path:
    """Where generated class folders are kept for the whole run (see tests/classes.py)."""
    from tests.classes import template_cache

    return template_cache(tmp_path_factory)
