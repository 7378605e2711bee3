"""Where things live in a course directory (see the README's layout section)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .messages import render


class CourseError(Exception):
    """A mistake a user can make; its text is a one-line cause and fix in Korean and English."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(render(key, **params))


@dataclass(frozen=True)
class Course:
    root: Path

    @classmethod
    def find(cls, start: str | os.PathLike | None = None) -> Course:
        """The course at ``start`` or the nearest folder above it holding ``nbgrader_config.py`` and
        ``source/``; without ``start``, looked for from the current directory, then from this package."""
        candidates = [Path(start)] if start else [Path.cwd(), Path(__file__).resolve().parent.parent]
        for candidate in candidates:
            for folder in (candidate.resolve(), *candidate.resolve().parents):
                if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
                    return cls(folder)
            if start:
                break
        raise CourseError("cli_no_course", path=str(candidates[0]))

    # ----------------------------------------------------------------------------------------- folders

    @property
    def lecture_sources(self) -> Path:
        """Hand-edited bilingual lectures; ``notebooks/ko`` and ``notebooks/en`` are built from them."""
        return self.root / "notebooks" / "bilingual"

    def lectures(self, lang: str) -> Path:
        return self.root / "notebooks" / lang

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def work(self) -> Path:
        """Students' own copies of the assignments (``course start``): no command ever rebuilds them."""
        return self.root / "work"

    def one_language_release(self, lang: str) -> Path:
        """Where ``course release --lang ko|en`` writes: ``release-ko/``, beside the bilingual ``release/``
        (handed out by ``nbgrader release_assignment A --CourseDirectory.release_directory=release-ko``)."""
        return self.release if lang == "both" else self.root / f"release-{lang}"

    @property
    def img(self) -> Path:
        return self.root / "img"

    @property
    def config(self) -> Path:
        return self.root / "nbgrader_config.py"

    # ------------------------------------------------------------------------------------------ contents

    def lecture_notebooks(self) -> list[Path]:
        return sorted(self.lecture_sources.glob("*.ipynb"))

    def assignments(self) -> list[str]:
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def assignment(self, name: str) -> Path:
        folder = self.source / name
        if name not in self.assignments():
            raise CourseError("cli_unknown_assignment", name=name, known=", ".join(self.assignments()) or "-")
        return folder
