"""The course glossary (glossary.md at the course root), read for the tests."""

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@cache
def entries() -> list[tuple[str, str, list[str]]]:
    """(Korean term, English term, [words to avoid]) for every row of glossary.md's table."""
    rows = []
    for line in (ROOT / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("한국어", "---") or set(cells[0]) <= {"-"}:
            continue
        ko, en, avoid = cells
        rows.append((ko, en, [w.strip() for w in avoid.split(",") if w.strip()]))
    return rows


def avoided_terms() -> list[str]:
    return [word for _, _, avoid in entries() for word in avoid]
