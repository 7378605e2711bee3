"""By hand means by hand: autograd in a by-hand answer is found in the submitted code, outside the
student's process, whatever the student's kernel did to itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograder.byhand import _jacobian_findings, check_sources
from autograder.grading.judge import run_notebook
from autograder.grading.sandbox import Limits, Session
from tests import nbcells
from tests.conftest import ROOT

BY_HAND = """
def grad_square(x):
    # d/dx x^2 = 2x, by hand
    return 2 * x
"""

CHEATS = {
    "backward": """
import torch
def grad_square(x):
    t = torch.tensor(x, requires_grad=True)
    (t ** 2).backward()
    return t.grad.item()
""",
    "autograd.grad": """
import torch
def grad_square(x):
    t = torch.tensor(x, requires_grad=True)
    return torch.autograd.grad(t ** 2, t)[0].item()
""",
    "torch.func": """
from torch.func import grad
import torch
def grad_square(x):
    return grad(lambda t: t ** 2)(torch.tensor(x)).item()
""",
    "getattr": """
import torch
def grad_square(x):
    t = torch.tensor(x, requires_grad=True)
    getattr(t ** 2, "back" + "ward")()
    return getattr(t, "gr" + "ad").item()
""",
    "exec": """
def grad_square(x):
    scope = {"x": x}
    code = "import torch\\nt = torch.tensor(x, requires_grad=True)\\n"
    exec(code + "(t**2).sum().back" "ward()\\nr = t.gr" "ad", scope)
    return scope["r"].item()
""",
    "eval": """
def grad_square(x):
    return eval("__import__('torch').func.grad(lambda t: t ** 2)")(__import__('torch').tensor(x)).item()
""",
    "__import__": """
def grad_square(x):
    torch = __import__("torch")
    t = torch.tensor(x, requires_grad=True)
    return torch.autograd.grad(t * t, t)[0].item()
""",
}

HELPER_CHEAT = [
    """
import torch
def _derivative(f, x):
    t = torch.tensor(x, requires_grad=True)
    f(t).backward()
    return t.grad.item()
""",
    """
def grad_square(x):
    return _derivative(lambda t: t ** 2, x)
""",
]


def test_a_derivation_by_hand_passes():
    assert check_sources("grad_square", [BY_HAND]) == (True, [])


@pytest.mark.parametrize("how", sorted(CHEATS))
def test_autograd_is_found_however_it_is_reached(how):
    defined, findings = check_sources("grad_square", [CHEATS[how]])
    assert defined and findings, how


def test_autograd_in_a_helper_is_found_but_not_in_unrelated_cells():
    defined, findings = check_sources("grad_square", HELPER_CHEAT)
    assert defined and any(".backward" in str(f) for f in findings)
    unrelated = [CHEATS["backward"].replace("grad_square", "some_other_exercise"), BY_HAND]
    assert check_sources("grad_square", unrelated) == (True, [])


def test_the_last_definition_is_the_one_judged():
    assert check_sources("grad_square", [CHEATS["backward"], BY_HAND]) == (True, [])
    assert check_sources("grad_square", [BY_HAND, CHEATS["backward"]])[1]


def test_every_by_hand_exercise_asks_and_its_reference_solution_passes():
    """The derivation exercises of every assignment call assert_by_hand, and the sources' answers pass."""
    asked = {}
    for path in sorted((ROOT / "source").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        solutions = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for cell in nb.cells:
            for line in cell.source.splitlines():
                if line.strip().startswith("assert_by_hand("):
                    name = line.strip()[len("assert_by_hand(") :].split(")")[0].strip()
                    asked[path.parent.name, name] = check_sources(name, solutions)
    by_unit = {unit: sum(1 for u, _ in asked if u == unit) for unit, _ in asked}
    assert by_unit == {"unit01": 6, "unit02": 3, "unit04": 3, "unit05": 3, "unit06": 3}, by_unit
    assert all(result == (True, []) for result in asked.values()), asked


def test_in_the_kernel_it_warns_at_once(tmp_path):
    script = tmp_path / "student.py"
    script.write_text(
        textwrap.dedent(HELPER_CHEAT[0] + HELPER_CHEAT[1])
        + "\nfrom autograder import assert_by_hand\n"
        + "try:\n    assert_by_hand(grad_square)\nexcept AssertionError as e:\n    print('CAUGHT', e)\n"
        + BY_HAND.replace("grad_square", "honest")
        + "assert_by_hand(honest)\nprint('HONEST OK')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "CAUGHT" in done.stdout and ".backward" in done.stdout and "autograd" in done.stdout
    assert "HONEST OK" in done.stdout


def _notebook(solution: str, tamper: str = ""):
    extra = [nbformat.v4.new_code_cell(tamper)] if tamper else []
    return nbcells.notebook(
        nbcells.setup("from autograder import assert_by_hand, assert_value"),
        nbcells.answer(solution),
        *extra,
        nbcells.test("assert_by_hand(grad_square)\nassert_value(grad_square(3.0), 6.0)", points=1),
    )


TAMPER = """
import autograder, autograder.byhand as byhand
byhand.check_sources = lambda *a, **k: (True, [])
autograder.assert_by_hand = byhand.assert_by_hand = lambda *a, **k: None
assert_by_hand = lambda *a, **k: None
"""


@pytest.mark.parametrize("tampered", [False, True], ids=["plain", "tampered-kernel"])
def test_the_grader_decides_from_the_submitted_cells(tmp_path, tampered):
    limits = Limits(cell_seconds=60, notebook_seconds=120)

    def start():
        return Session(tmp_path, limits=limits, sandbox=False)

    cheat = run_notebook(_notebook(CHEATS["backward"], TAMPER if tampered else ""), start)
    assert not cheat[0].passed
    message = "\n".join(cheat[0].messages)
    assert "autograd" in message and "자동 미분" in message and ".backward" in message
    honest = run_notebook(_notebook(BY_HAND, TAMPER if tampered else ""), start)
    assert honest[0].passed, honest[0].messages


# ------------------------------------------------------------------ an engine of one's own (unit 5)

ENGINE = """
import math
class Value:
    def __init__(self, data, parents=()):
        self.data, self.grad, self.parents = float(data), 0.0, tuple(parents)
        self.local_backward = lambda: None
    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))
        def local_backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out.local_backward = local_backward
        return out
"""
BACKWARD = """
def backward(self):
    self.grad = 1.0
    for node in reversed(order(self)):
        node.local_backward()
Value.backward = backward
"""
ORDER = """
def order(root):
    return [*root.parents, root]
"""
NEURON = """
def neuron_gradient(w, x):
    wv, xv = Value(w), Value(x)
    out = wv * xv
    out.backward()
    return wv.grad
"""
ENGINE_CHEATS = {
    "torch in a method": ENGINE.replace(
        "        out.local_backward = local_backward",
        "        import torch\n        out.local_backward = local_backward",
    ),
    "torch in a patched-on method": BACKWARD.replace("self.grad = 1.0", "self.grad = torch.ones(())"),
    "torch in a helper of a patched-on method": ORDER.replace("return", "import torch\n    return"),
    "an alias of torch in another cell": ENGINE.replace("float(data)", "T.tensor(data)")
    + "\nimport torch as T\n",
    "requires_grad on a tensor from elsewhere": BACKWARD.replace(
        "self.grad = 1.0", "self.data.requires_grad_()"
    ),
    "exec": BACKWARD.replace("self.grad = 1.0", "exec('self.grad = 1.0')"),
}


def test_an_engine_of_ones_own_passes_with_its_grad_and_backward():
    cells = [ENGINE, ORDER, BACKWARD, NEURON]
    assert check_sources("Value", cells) == (True, [])
    assert check_sources("neuron_gradient", cells) == (True, [])  # .backward() and .grad of the engine


@pytest.mark.parametrize("how", sorted(ENGINE_CHEATS))
def test_torch_anywhere_in_the_engine_is_found(how):
    cells = [ENGINE, ORDER, BACKWARD]
    cheat = ENGINE_CHEATS[how]
    cells = [cheat if cheat.split("\n")[1][:10] == c.split("\n")[1][:10] else c for c in cells]
    if cheat not in cells:
        cells.append(cheat)
    defined, findings = check_sources("Value", cells)
    assert defined and findings, how


def test_a_function_on_the_engine_still_may_not_use_torch():
    cheat = NEURON.replace("    out.backward()", "    import torch\n    out.backward()")
    assert check_sources("neuron_gradient", [ENGINE, cheat])[1]
    tensor = NEURON.replace("Value(w)", "Value(w.requires_grad_())")
    assert check_sources("neuron_gradient", [ENGINE, tensor])[1]
    # without an engine of one's own, .backward and .grad are autograd, as before
    assert check_sources("grad_square", [CHEATS["backward"]])[1]


def test_in_the_kernel_a_class_is_read_whole(tmp_path):
    script = tmp_path / "student.py"
    honest = ENGINE + ORDER + BACKWARD + NEURON
    cheat = honest.replace("    self.grad = 1.0\n", "    import torch\n    self.grad = 1.0\n")
    check = (
        "\nfrom autograder import assert_by_hand\n"
        "for answer in (Value, neuron_gradient):\n"
        "    try:\n        assert_by_hand(answer)\n        print('PASSED', answer.__name__)\n"
        "    except AssertionError as e:\n        print('CAUGHT', answer.__name__, e)\n"
    )
    for code, expected in ((honest, "PASSED"), (cheat, "CAUGHT")):
        script.write_text(code + check)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count(expected) == 2, done.stdout


# ------------------------------------------------------------- a Jacobian built row by row (unit 2)

ROWS = """
import torch
def jacobian_rows(x):
    y = torch.tanh(x) * x.sum()
    rows = []
    for i in range(y.numel()):
        pick = torch.zeros_like(y)
        pick[i] = 1.0
        (row,) = torch.autograd.grad(y, x, grad_outputs=pick, retain_graph=True)
        rows.append(row)
    return torch.stack(rows).detach()
"""

READY_MADE = {
    "functional.jacobian": """
import torch
def jacobian_rows(x):
    return torch.autograd.functional.jacobian(lambda x: torch.tanh(x) * x.sum(), x.detach())
""",
    "imported jacobian": """
from torch.autograd.functional import jacobian
def jacobian_rows(x):
    return jacobian(lambda x: x.tanh() * x.sum(), x.detach())
""",
    "torch.func": """
import torch.func as tf
def jacobian_rows(x):
    return tf.jacrev(lambda x: x.tanh() * x.sum())(x.detach())
""",
    "getattr": """
import torch
def jacobian_rows(x):
    return getattr(torch.autograd, "func" + "tional").jacobian(lambda x: x.tanh() * x.sum(), x.detach())
""",
}


def test_a_jacobian_built_row_by_row_passes():
    assert check_sources("jacobian_rows", [ROWS], rule=_jacobian_findings) == (True, [])
    nn_functional = "import torch\ndef jacobian_rows(x):\n    return torch.nn.functional.relu(x)\n"
    assert check_sources("jacobian_rows", [nn_functional], rule=_jacobian_findings) == (True, [])


@pytest.mark.parametrize("how", sorted(READY_MADE))
def test_a_ready_made_jacobian_is_found(how):
    defined, findings = check_sources("jacobian_rows", [READY_MADE[how]], rule=_jacobian_findings)
    assert defined and findings, how


def _jacobian_notebook(solution: str, tamper: str = ""):
    extra = [nbformat.v4.new_code_cell(tamper)] if tamper else []
    return nbcells.notebook(
        nbcells.setup("import torch\nfrom autograder import assert_value, assert_without_jacobian"),
        nbcells.answer(solution),
        *extra,
        nbcells.test(
            "assert_without_jacobian(jacobian_rows)\n"
            "x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)\n"
            "assert_value(jacobian_rows(x.clone().requires_grad_()), "
            "torch.autograd.functional.jacobian(lambda x: torch.tanh(x) * x.sum(), x), 'J')",
            points=1,
        ),
    )


JACOBIAN_TAMPER = """
import autograder, autograder.byhand as byhand
byhand.check_sources = lambda *a, **k: (True, [])
autograder.assert_without_jacobian = byhand.assert_without_jacobian = lambda *a, **k: None
assert_without_jacobian = lambda *a, **k: None
"""


@pytest.mark.parametrize("tampered", [False, True], ids=["plain", "tampered-kernel"])
def test_the_grader_finds_a_ready_made_jacobian_in_the_submitted_cells(tmp_path, tampered):
    limits = Limits(cell_seconds=60, notebook_seconds=120)

    def start():
        return Session(tmp_path, limits=limits, sandbox=False)

    tamper = JACOBIAN_TAMPER if tampered else ""
    cheat = run_notebook(_jacobian_notebook(READY_MADE["functional.jacobian"], tamper), start)
    assert not cheat[0].passed
    message = "\n".join(cheat[0].messages)
    assert "ready-made Jacobian" in message and "야코비안" in message and "functional" in message
    honest = run_notebook(_jacobian_notebook(ROWS, tamper), start)
    assert honest[0].passed, honest[0].messages
