"""One bilingual notebook, two monolingual ones.

Prose cells come in adjacent pairs tagged ``lang-ko`` / ``lang-en``; every other cell (code, nbgrader
cells) is shared. A monolingual notebook is the bilingual one with the other language's cells removed,
which is exactly what nbconvert's ``TagRemovePreprocessor`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

LANGS = ("ko", "en")
TAG = {lang: f"lang-{lang}" for lang in LANGS}

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*src=[\"']([^\"']+)[\"']")
PLACEHOLDER = re.compile(r"\b(TODO|TBD|FIXME|XXX|TRANSLATE)\b|번역 필요|번역하세요")


def cell_lang(cell) -> str | None:
    tags = cell.get("metadata", {}).get("tags", [])
    found = [lang for lang in LANGS if TAG[lang] in tags]
    return found[0] if len(found) == 1 else ("both" if found else None)


def monolingual(nb: nbformat.NotebookNode, lang: str, origin: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` keeping only ``lang``'s prose, with outputs cleared and its origin recorded."""
    import nbformat  # here, not above: the checker's path (exercise titles) needs none of it
    from nbconvert.preprocessors import TagRemovePreprocessor

    other = [TAG[x] for x in LANGS if x != lang]
    remover = TagRemovePreprocessor(remove_cell_tags=set(other), enabled=True)
    out, _ = remover.preprocess(nbformat.from_dict(nb), {})
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out.metadata["course"] = {"lang": lang, "generated_from": origin, "edit": f"edit {origin}, not this file"}
    return out


# ------------------------------------------------------------------------------------------- parity


@dataclass(frozen=True)
class Shape:
    """What must agree between the two languages of a prose cell."""

    heading: int
    formulas: int
    images: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Shape:
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        heading = len(first) - len(first.lstrip("#")) if first.startswith("#") else 0
        display = DISPLAY_MATH.findall(text)
        inline = INLINE_MATH.findall(DISPLAY_MATH.sub(" ", text))
        images = tuple(a or b for a, b in IMAGE.findall(text))
        return cls(heading, len(display) + len(inline), images)


def parity_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """Everything wrong with the pairing of ``nb``'s prose cells, one line each (empty when all is well)."""
    problems = []
    cells = nb.cells
    i = 0
    while i < len(cells):
        cell, lang = cells[i], cell_lang(cells[i])
        where = f"{name} cell {i}"
        if lang == "both":
            problems.append(f"{where}: tagged both lang-ko and lang-en")
        elif cell.cell_type == "markdown" and lang is None and "nbgrader" not in cell.metadata:
            # nbgrader's own markdown cells (a written answer) are shared and hold both languages
            problems.append(f"{where}: markdown cell without a lang-ko/lang-en tag")
        elif lang == "en":
            problems.append(f"{where}: lang-en cell without a lang-ko cell before it")
        elif lang == "ko":
            twin = cells[i + 1] if i + 1 < len(cells) else None
            if twin is None or cell_lang(twin) != "en":
                problems.append(f"{where}: lang-ko cell without its lang-en twin right after it")
            else:
                problems += _twin_problems(cell, twin, where)
                i += 1
        i += 1
    return problems


def _twin_problems(ko, en, where: str) -> list[str]:
    problems = []
    if ko.cell_type != "markdown" or en.cell_type != "markdown":
        problems.append(f"{where}: language-tagged cells must be markdown (code is shared)")
    ko_shape, en_shape = Shape.of(ko.source), Shape.of(en.source)
    for field_name in ("heading", "formulas", "images"):
        a, b = getattr(ko_shape, field_name), getattr(en_shape, field_name)
        if a != b:
            problems.append(f"{where}: {field_name} differ between ko ({a}) and en ({b})")
    if not HANGUL.search(ko.source):
        problems.append(f"{where}: the lang-ko cell has no Korean text")
    if HANGUL.search(en.source):
        problems.append(f"{where}: the lang-en cell contains Korean text")
    for text, lang in ((ko.source, "ko"), (en.source, "en")):
        if PLACEHOLDER.search(text):
            problems.append(f"{where}: untranslated placeholder in the lang-{lang} cell")
    return problems
