"""Korean/English parity of every bilingual notebook: twins, structure, shared code, the glossary."""

import re

import nbformat
import pytest

from autograder.bilingual import cell_lang, parity_problems
from autograder.course import Course
from tests.glossary import avoided_terms, entries

COURSE = Course.find()
LECTURES = COURSE.lecture_notebooks()
ASSIGNMENTS = sorted(COURSE.source.glob("*/*.ipynb"))
BILINGUAL = LECTURES + ASSIGNMENTS


def ids(paths):
    return [p.relative_to(COURSE.root).as_posix() for p in paths]


def read(path):
    return nbformat.read(path, as_version=4)


def korean_text(nb):
    return "\n".join(c.source for c in nb.cells if cell_lang(c) == "ko")


def test_there_is_something_to_check():
    assert LECTURES and ASSIGNMENTS


@pytest.mark.parametrize("path", BILINGUAL, ids=ids(BILINGUAL))
def test_every_prose_cell_has_its_twin(path):
    assert parity_problems(read(path), path.name) == []


@pytest.mark.parametrize("path", BILINGUAL, ids=ids(BILINGUAL))
def test_sources_hold_no_outputs(path):
    dirty = [
        i
        for i, c in enumerate(read(path).cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("path", BILINGUAL, ids=ids(BILINGUAL))
def test_korean_avoids_calques(path):
    text = korean_text(read(path))
    used = sorted({word for word in avoided_terms() if word in text})
    assert not used, f"avoid {used}: see glossary.md"


@pytest.mark.parametrize("path", BILINGUAL, ids=ids(BILINGUAL))
def test_glossary_terms_give_the_english_at_first_use(path):
    text = korean_text(read(path))
    missing = []
    for ko, en, _ in entries():
        at = text.find(ko)
        if at < 0:
            continue
        after = text[at + len(ko) : at + len(ko) + 60]
        # its own gloss, or that of the compound it begins: 기울기 검사(gradient check) has "gradient"
        english = re.match(r"(?:\s?[\uac00-\ud7a3]+)?\s?\(([^)]*)\)", after)
        if not english or en.split(" (")[0].lower() not in english.group(1).lower():
            missing.append(f"{ko}({en})")
    assert not missing, f"first use without the English term: {missing}"


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=ids(ASSIGNMENTS))
def test_grade_cells_are_language_neutral(path):
    for i, cell in enumerate(read(path).cells):
        meta = cell.metadata.get("nbgrader")
        if meta:
            assert cell_lang(cell) is None, f"cell {i} is an nbgrader cell with a language tag"
            assert meta["grade_id"].isascii(), f"cell {i}: grade_id must be ASCII"


@pytest.mark.parametrize("path", LECTURES, ids=ids(LECTURES))
def test_built_lectures_share_code_with_their_source(path):
    source_code = [c.source for c in read(path).cells if c.cell_type == "code"]
    for lang in ("ko", "en"):
        built = read(COURSE.lectures(lang) / path.name)
        assert [c.source for c in built.cells if c.cell_type == "code"] == source_code
        assert all(cell_lang(c) in (lang, None) for c in built.cells)


def test_parity_check_can_fail():
    """The checks above are only worth something if they catch a broken pair."""
    nb = nbformat.v4.new_notebook()
    ko = nbformat.v4.new_markdown_cell("## 계산 그래프 $x$", metadata={"tags": ["lang-ko"]})
    en = nbformat.v4.new_markdown_cell("# Computation graphs", metadata={"tags": ["lang-en"]})
    lonely = nbformat.v4.new_markdown_cell("TODO", metadata={"tags": ["lang-ko"]})
    nb.cells = [ko, en, lonely]
    problems = parity_problems(nb, "x.ipynb")
    assert any("heading" in p for p in problems)
    assert any("formulas" in p for p in problems)
    assert any("without its lang-en twin" in p for p in problems)
