"""The course's nbgrader configuration: ``nbgrader_config.py`` read as nbgrader reads it, and the
``CourseDirectory`` that every path of grading comes from (see :mod:`..paths`)."""

from __future__ import annotations

from pathlib import Path


def config(root: Path):
    from traitlets.config.loader import Config, PyFileConfigLoader

    config = Config()
    path = root / "nbgrader_config.py"
    if path.is_file():
        config.merge(PyFileConfigLoader(path.name, path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    return config


def coursedir(root: Path):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config(root))


def execute_timeout(root: Path) -> float | None:
    """``c.Execute.timeout`` from the course's ``nbgrader_config.py`` (seconds per cell), if set."""
    value = config(root).get("Execute", {}).get("timeout")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None
