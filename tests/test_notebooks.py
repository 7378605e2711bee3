"""Every lecture, in both languages, executes without error in a real kernel and prints the seeds' numbers."""

import re

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import Course
from tests.conftest import ROOT

pytestmark = pytest.mark.notebook

COURSE = Course(ROOT)
LECTURES = [(lang, path.name) for path in COURSE.lecture_notebooks() for lang in ("ko", "en")]

# Numbers from the seed material that each executed lecture must print (regular expressions).
SEED_NUMBERS = {
    "unit01_computation_graphs.ipynb": {
        "ŷ = 1": r"ŷ\s*=\s*1(\.0+)?\b",
        "s = −1": r"\bs\s*=\s*-1(\.0+)?\b",
        "loss = 1": r"\bloss\s*=\s*1(\.0+)?\b",
        "∂loss/∂w = −2": r"∂loss/∂w\s*=\s*-2(\.0+)?\b",
    },
}


def text_outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out and "text/plain" in out.data:
                parts.append(out.data["text/plain"])
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed():
    cache = {}

    def run(lang, name):
        if (lang, name) not in cache:
            path = COURSE.lectures(lang) / name
            nb = nbformat.read(path, as_version=4)
            NotebookClient(
                nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            cache[lang, name] = nb
        return cache[lang, name]

    return run


@pytest.mark.parametrize(("lang", "name"), LECTURES, ids=[f"{lang}/{name}" for lang, name in LECTURES])
def test_lecture_executes_without_error(executed, lang, name):
    nb = executed(lang, name)
    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out.output_type == "error"]
    assert not errors
    assert any(cell.get("outputs") for cell in nb.cells), "the lecture printed nothing"


@pytest.mark.parametrize(("lang", "name"), LECTURES, ids=[f"{lang}/{name}" for lang, name in LECTURES])
def test_lecture_prints_the_seed_numbers(executed, lang, name):
    output = text_outputs(executed(lang, name))
    missing = [
        label for label, pattern in SEED_NUMBERS.get(name, {}).items() if not re.search(pattern, output)
    ]
    assert not missing, f"{lang}/{name} does not print {missing}"


def test_every_lecture_has_its_seed_numbers_listed():
    assert {p.name for p in COURSE.lecture_notebooks()} <= set(SEED_NUMBERS)


@pytest.mark.parametrize(("lang", "name"), LECTURES, ids=[f"{lang}/{name}" for lang, name in LECTURES])
def test_lecture_images_exist(lang, name):
    path = COURSE.lectures(lang) / name
    for cell in nbformat.read(path, as_version=4).cells:
        for target in re.findall(
            r"!\[[^\]]*\]\(([^)\s]+)\)", cell.source if cell.cell_type == "markdown" else ""
        ):
            assert (path.parent / target).resolve().is_file(), f"{name}: missing image {target}"
