"""The exercises of an assignment notebook as a student reads them: each test cell with its title and the
answer cells it checks.

A test cell's title is the last heading above it, in each language (the ``lang-ko`` and ``lang-en`` prose
cells; an untagged heading serves both), without the points it states ("(1점)", "(1 point)"): tables
show the points in a column of their own. An answer cell is *not started* while it is exactly as
released: its source still hashes to the checksum nbgrader recorded when it generated the release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..bilingual import LANGS, cell_lang
from .cells import is_test, nbgrader_meta

HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
POINTS = re.compile(r"\s*\(\s*\d+(?:\.\d+)?\s*(?:점|points?)\b[^)]*\)\s*$")


@dataclass
class Exercise:
    grade_id: str  # the test cell's
    titles: dict[str, str] = field(default_factory=dict)  # language → heading, without its points
    answers: list = field(default_factory=list)  # the answer (solution) cells since the previous test

    def title(self, lang: str | None = None) -> str:
        """The title in ``lang`` (``ko``, ``en``), or both joined (``both``/None); else the grade id."""
        chosen = [self.titles[x] for x in LANGS if x in self.titles and lang in (x, "both", None)]
        return " · ".join(dict.fromkeys(chosen)) or self.grade_id

    def not_started(self) -> bool:
        """Whether every answer this test checks is still exactly as released."""
        return bool(self.answers) and all(unchanged(cell) for cell in self.answers)


def unchanged(cell) -> bool:
    """Whether an answer cell still matches the checksum nbgrader gave it in the release."""
    from nbgrader.utils import compute_checksum

    recorded = nbgrader_meta(cell).get("checksum")
    try:
        return isinstance(recorded, str) and compute_checksum(cell) == recorded
    except Exception:  # noqa: BLE001 - a cell nbgrader cannot hash was changed by the student
        return False


def heading(text: str) -> str | None:
    """The last markdown heading in ``text``, without the points it states."""
    found = [m.group(1) for m in map(HEADING.match, str(text).splitlines()) if m]
    return POINTS.sub("", found[-1]).strip() or None if found else None


def exercises(nb) -> dict[str, Exercise]:
    """Every test cell of ``nb`` by grade id, with its title and the answer cells above it."""
    titles: dict[str, str] = {}
    answers: list = []
    found: dict[str, Exercise] = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if is_test(cell):
            grade_id = meta.get("grade_id")
            if isinstance(grade_id, str):
                found[grade_id] = Exercise(grade_id, dict(titles), answers)
            answers = []
        elif meta.get("solution"):
            answers.append(cell)
        elif cell.cell_type == "markdown":
            title = heading(cell.source)
            if title:
                lang = cell_lang(cell)
                for code in (lang,) if lang in LANGS else LANGS:
                    titles[code] = title
    return found
