"""Every lecture, in both languages, executes without error in a real kernel and prints the seeds' numbers.

The two languages share every code cell, so each lecture runs once and both are judged on that run."""

import re

import nbformat
import pytest

from autograder.course import Course
from autograder.site.execute import executed_lecture, executed_lectures
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
    "unit02_autograd_basics.ipynb": {
        "obj = 8": r"\bobj\s*=\s*8(\.0*)?(?![\d.])",
        "x.grad = [[2, 2], [2, 2]]": (
            r"\bx\.grad\s*=\s*(tensor\()?\[\[2(\.0*)?,\s*2(\.0*)?\],\s*\[2(\.0*)?,\s*2(\.0*)?\]\]"
        ),
        "obj = 25": r"\bobj\s*=\s*25(\.0*)?(?![\d.])",
        "a.grad = [6, 8]": r"\ba\.grad\s*=\s*(tensor\()?\[6(\.0*)?,\s*8(\.0*)?\]",
    },
    "unit03_autograd_mechanics.ipynb": {
        "w.grad = −2, −4, −6 after 1, 2, 3 backward() calls": (
            r"#1: w\.grad = -2\b[\s\S]*#2: w\.grad = -4\b[\s\S]*#3: w\.grad = -6\b"
        ),
        "full batch ∂L/∂w = −9.3333": r"full batch:\s*∂L/∂w = -9\.3333\b",
        "3 micro-batches / k give −9.3333": r"3 micro-batches / k: ∂L/∂w = -9\.3333\b",
        "without / k: ×3": r"without / k:\s*∂L/∂w = -28\.0000 = 3 × the full batch",
        "legacy and modern updates both give w = 1.2607": r"legacy: w = 1\.2607\s+modern: w = 1\.2607\b",
        # the original training code, run as it was: its per-sample gradients and loss in epoch 0
        "original code: grads −2, −7.84, −16.2288 in epoch 0": (
            r"grad:\s+1\.0 2\.0 tensor\(-2\.\)\s+grad:\s+2\.0 4\.0 tensor\(-7\.8400\)"
            r"\s+grad:\s+3\.0 6\.0 tensor\(-16\.2288\)"
        ),
        "original code: w = 1.2607, loss = 7.3159 at epoch 0": (
            r"progress: 0 w= tensor\(\[1\.2607\], requires_grad=True\) loss= tensor\(7\.3159\)"
        ),
        "jacrev/jacfwd ratio printed": r"jacrev/jacfwd = \d",
    },
    "unit04_training.ipynb": {
        "ŷ(4) = 4.0 before training": r"before training:\s*w\s*=\s*1\.0\s+ŷ\(4\)\s*=\s*4\.0\b",
        "w = 1.2607 after epoch 0": r"epoch 0:\s*w\s*=\s*1\.2607,",
        "loss = 7.3159 at epoch 0": r"epoch 0:\s*w\s*=\s*1\.2607,\s*loss\s*=\s*7\.3159\b",
        "w = 1.4534 after epoch 1": r"epoch 1:\s*w\s*=\s*1\.4534,",
        "loss = 3.9988 at epoch 1": r"epoch 1:\s*w\s*=\s*1\.4534,\s*loss\s*=\s*3\.9988\b",
        "w → 2.0000": r"after 100 epochs:\s*w\s*=\s*2\.0000,",
        "ŷ(4) → 8.0": r"after 100 epochs:\s*w\s*=\s*2\.0000,\s*ŷ\(4\)\s*=\s*8\.0000\b",
        "w1 = 0.6608 after epoch 0": r"epoch 0:\s*w1\s*=\s*0\.6608,",
        "w2 = 0.0624 after epoch 0": r"epoch 0:\s*w1\s*=\s*0\.6608,\s*w2\s*=\s*0\.0624,",
        "loss = 18.6624 at epoch 0": r"w2\s*=\s*0\.0624,\s*loss\s*=\s*18\.6624\b",
        "w1 = 0.8516 after epoch 1": r"epoch 1:\s*w1\s*=\s*0\.8516,",
        "w2 = 0.4928 after epoch 1": r"epoch 1:\s*w1\s*=\s*0\.8516,\s*w2\s*=\s*0\.4928,",
        "loss = 1.5328 at epoch 1": r"w2\s*=\s*0\.4928,\s*loss\s*=\s*1\.5328\b",
        # the rest of the original linear-model log: epochs 2–4, and the float32 plateau
        "w = 1.5959, loss = 2.1857 at epoch 2": r"epoch 2:\s*w\s*=\s*1\.5959,\s*loss\s*=\s*2\.1857\b",
        "w = 1.7012, loss = 1.1946 at epoch 3": r"epoch 3:\s*w\s*=\s*1\.7012,\s*loss\s*=\s*1\.1946\b",
        "w = 1.7791, loss = 0.6530 at epoch 4": r"epoch 4:\s*w\s*=\s*1\.7791,\s*loss\s*=\s*0\.6530\b",
        "float32 epoch 66: w = 2.0000, loss = 9.0949e-13": (
            r"float32, epoch 66:\s*w\s*=\s*2\.0000,\s*loss\s*=\s*9\.0949e-13\b"
        ),
        "float32: w stops just below 2": r"stuck w = 1\.99999964\d*\s*=\s*2 − 3·2\^-23",
        # the rest of the quadratic model's log: the prediction before training, epochs 2, 41, 84–87
        "quadratic ŷ(4) = 20 before training": r"before training:\s*ŷ\(4\)\s*=\s*20\.0\b",
        "w1 = 0.7933, w2 = 0.2818, loss = 1.8361 at epoch 2": (
            r"epoch 2:\s*w1\s*=\s*0\.7933,\s*w2\s*=\s*0\.2818,\s*loss\s*=\s*1\.8361\b"
        ),
        "w1 = 1.4080, w2 = 0.1740, loss = 0.0690 at epoch 41": (
            r"epoch 41:\s*w1\s*=\s*1\.4080,\s*w2\s*=\s*0\.1740,\s*loss\s*=\s*0\.0690\b"
        ),
        "w1 = 1.7236, w2 = 0.0812, loss = 0.0150 at epoch 84": (
            r"epoch 84:\s*w1\s*=\s*1\.7236,\s*w2\s*=\s*0\.0812,\s*loss\s*=\s*0\.0150\b"
        ),
        "w1 = 1.7284, w2 = 0.0798, loss = 0.0145 at epoch 85": (
            r"epoch 85:\s*w1\s*=\s*1\.7284,\s*w2\s*=\s*0\.0798,\s*loss\s*=\s*0\.0145\b"
        ),
        "w1 = 1.7332, w2 = 0.0784, loss = 0.0140 at epoch 86": (
            r"epoch 86:\s*w1\s*=\s*1\.7332,\s*w2\s*=\s*0\.0784,\s*loss\s*=\s*0\.0140\b"
        ),
        "w1 = 1.7379, w2 = 0.0770, loss = 0.0135 at epoch 87": (
            r"epoch 87:\s*w1\s*=\s*1\.7379,\s*w2\s*=\s*0\.0770,\s*loss\s*=\s*0\.0135\b"
        ),
    },
    "unit06_layers_gradcheck.ipynb": {
        "w.grad = −8 in NumPy": r"NumPy by hand: loss = 4\.0, w\.grad = -8\.0\b",
        "w.grad = −8 by autograd": r"torch autograd: w\.grad = -8\.0\b",
        "grads −2, −7.84, −16.2288 in epoch 0": (
            r"grad: 1\.0 2\.0 -2\.0000\s+grad: 2\.0 4\.0 -7\.8400\s+grad: 3\.0 6\.0 -16\.2288"
        ),
        "w = 1.2607, loss = 7.3159 at epoch 0": r"epoch 0:\s*w\s*=\s*1\.2607,\s*loss\s*=\s*7\.3159\b",
        "w = 1.4534, loss = 3.9988 at epoch 1": r"epoch 1:\s*w\s*=\s*1\.4534,\s*loss\s*=\s*3\.9988\b",
    },
    "unit05_own_autograd.ipynb": {
        "loss = 1 (unit 1's example, by the Value engine)": r"\bloss\s*=\s*1(\.0+)?\b",
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


def code_cells(lang: str, name: str) -> list[str]:
    nb = nbformat.read(COURSE.lectures(lang) / name, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(lecture_cache):
    """Each lecture executed once: the Korean and English notebooks share every code cell (checked by
    ``test_both_languages_run_the_same_code``), so the English one gets the Korean run's outputs, cell
    for cell, and its prose is checked by the parity tests. The runs are the site's
    (``autograder/site/execute.py``, in ``lecture_cache``): whichever of this module and tests/test_site.py
    comes first runs a lecture, the other reads it, and two workers split the lectures between them."""
    runs = {}
    cache = {}

    def run(lang, name):
        if not runs:
            runs.update(executed_lectures(COURSE, cache=lecture_cache))
        if (lang, name) not in cache:
            ran = runs[name]
            cache[lang, name] = ran if lang == "ko" else executed_lecture(COURSE, lang, name, ran)
        return cache[lang, name]

    return run


@pytest.mark.parametrize("name", [path.name for path in COURSE.lecture_notebooks()])
def test_both_languages_run_the_same_code(name):
    assert code_cells("ko", name) == code_cells("en", name), name
    assert code_cells("ko", name), f"{name} has no code"


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


@pytest.mark.parametrize(("lang", "name"), LECTURES, ids=[f"{lang}/{name}" for lang, name in LECTURES])
def test_lecture_plots_lack_no_glyph(executed, lang, name):
    """Matplotlib warns on stderr when a label holds a character its fonts lack (Hangul, −, ŷ)."""
    stderr = [
        out.text
        for cell in executed(lang, name).cells
        for out in cell.get("outputs", [])
        if out.output_type == "stream" and out.name == "stderr"
    ]
    assert not [text for text in stderr if "glyph" in text.lower()], stderr


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
