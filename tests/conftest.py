"""Shared fixtures: the course under test, and a scratch copy of it for commands that write."""

import os
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
        "work",
        "release-ko",
        "release-en",
        "grades.csv",
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return Course(target)


@pytest.fixture()
def scratch_course(tmp_path) -> Course:
    return copy_course(tmp_path / "course")


@pytest.fixture(scope="session")
def lecture_cache(tmp_path_factory) -> Path:
    """Where each lecture's run is kept for the whole run, shared by every xdist worker
    (autograder/site/execute.py): tests/test_notebooks.py and tests/test_site.py judge the same runs, so
    the suite executes each lecture once, in whichever worker gets to it first."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "executed-lectures"


@pytest.fixture(scope="session")
def class_cache(tmp_path_factory) -> Path:
    """Where generated class folders are kept for the whole run (see tests/classes.py)."""
    from tests.classes import template_cache

    return template_cache(tmp_path_factory)


# ---------------------------------------------------------------------------- spreading the suite


def shared_setup(item: pytest.Item) -> str | None:
    """What ``item`` shares with other tests: the module- and class-scoped fixtures it uses, with their
    parameters (``mutated:unit05``), or None when it shares nothing."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    params = item.callspec.params if hasattr(item, "callspec") else {}
    shared = []
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if definitions and definitions[-1].scope in ("module", "class", "package"):
            # no brackets: xdist reads the group from after the last "@" only if no "]" follows it
            shared.append(f"{name}:{params[name]}" if name in params else name)
    if not shared:
        return None
    return f"{item.nodeid.split('::')[0]}::{'+'.join(sorted(shared))}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` (pyproject.toml), tests that share a module- or class-scoped fixture
    (one class graded, one lecture executed) run on one worker, so it is set up once; every other test
    goes wherever a core is free. A long file is spread over the cores, not run on one."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = shared_setup(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
