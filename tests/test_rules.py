"""The rules an exercise states, found in the submitted code outside the student's process, whatever
the student's kernel did to itself: autograd and numerical differentiation in a by-hand answer, a
ready-made Jacobian, torch in a prediction, recursion, loops, the course's own package."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograder.grading.cells import split_hidden
from autograder.grading.judge import run_notebook
from autograder.grading.sandbox import Limits, Session
from autograder.rules import KINDS, RULES, answer_of, violations
from tests import nbcells
from tests.conftest import ROOT


def check_sources(name, cells, rule="by_hand", instructor=frozenset()):
    """(defined, findings): whether ``name`` is defined in ``cells``, and what ``rule`` finds in it."""
    answer = answer_of(name, cells, instructor)
    if answer is None:
        return False, []
    return True, [finding for _, found in violations(rule, answer) for finding in found]


def kinds(name, cells, rule="by_hand", instructor=frozenset()):
    """The kinds of findings ``rule`` makes in the answer ``name``."""
    return {kind for kind, _ in violations(rule, answer_of(name, cells, instructor))}


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
    "aten backward kernel": """
import torch
def grad_square(x):
    t = torch.tensor(x)
    zero = torch.zeros((), dtype=torch.float64)
    return torch.ops.aten.mse_loss_backward(torch.ones_like(zero), t.double(), zero, 0).item()  # 2x
""",
    "__import__": """
def grad_square(x):
    torch = __import__("torch")
    t = torch.tensor(x, requires_grad=True)
    return torch.autograd.grad(t * t, t)[0].item()
""",
    "pkgutil.resolve_name": """
import pkgutil
def grad_square(x):
    grad = pkgutil.resolve_name("torch.func:grad")
    return grad(lambda t: t ** 2)(pkgutil.resolve_name("torch.tensor")(x)).item()
""",
    "pydoc.locate": """
from pydoc import locate
def grad_square(x):
    return locate("torch.func.grad")(lambda t: t ** 2)(locate("torch.tensor")(x)).item()
""",
    "a module path in a string": """
def grad_square(x, find=__builtins__):
    return find["__import__"]("torch.func").func.grad(lambda t: t ** 2)(x)
""",
    "operator.attrgetter": """
import operator, sys
def grad_square(x):
    grad = operator.attrgetter("func.grad")(sys.modules["tor" "ch"])
    return grad(lambda t: t ** 2)(x)
""",
    "pickle": """
import pickle
def grad_square(x):
    grad = pickle.loads(b"ctorch.func\\ngrad\\n.")
    return grad(lambda t: t ** 2)(x)
""",
    # torch's own backward kernels, reached without writing torch.ops
    "from torch.ops import aten": """
from torch.ops import aten
def grad_square(x):
    return aten.pow_backward(x, x, 2)
""",
    "an alias of torch.ops": """
import torch as T
kernels = T.ops
def grad_square(x):
    return kernels.aten.pow_backward(x, x, 2)
""",
    "torch._C": """
from torch._C import _nn
def grad_square(x):
    return _nn.some_backward(x)
""",
    "a _backward_data kernel": """
import torch
def grad_square(x):
    return torch.ops.aten._log_softmax_backward_data(x, x, 0, x.dtype)
""",
    # torch's backward formulas outside torch.ops, whatever name or root they are reached by
    "from torch import a _backward_data kernel": """
from torch import _log_softmax_backward_data
def grad_square(x):
    return _log_softmax_backward_data(x, x, 0, x.dtype)
""",
    "a _backward_data kernel imported under another name": """
from torch import _softmax_backward_data as formula
def grad_square(x):
    return formula(x, x, 0, x.dtype)
""",
    "import torch as T, then a _backward_data kernel": """
import torch as T
def grad_square(x):
    return T._log_softmax_backward_data(x, x, 0, x.dtype)
""",
    "an alias bound by assignment, then a _backward_data kernel": """
import torch
tt = torch
def grad_square(x):
    return tt._log_softmax_backward_data(x, x, 0, x.dtype)
""",
    "a kernel reached through a parameter that torch is passed to": """
import torch
def grad_square(x):
    return (lambda library: library._log_softmax_backward_data(x, x, 0, x.dtype))(torch)
""",
    "from torch import ops": """
from torch import ops
def grad_square(x):
    return ops.aten.pow_backward(x, x, 2)
""",
    "a _backward_ kernel": """
import torch
def grad_square(x):
    return torch.batch_norm_backward_reduce(x, x, x, x, x, True, True, True)
""",
    # torch's private functorch: the transforms of torch.func under other names, and any private submodule
    "from torch._functorch.apis import grad_and_value": """
import torch
from torch._functorch.apis import grad_and_value
def grad_square(x):
    return grad_and_value(lambda t: t ** 2)(torch.tensor(x))[0].item()
""",
    "torch._functorch reached by attribute, no import": """
import torch
def grad_square(x):
    return torch._functorch.apis.grad_and_value(lambda t: t ** 2)(torch.tensor(x))[0].item()
""",
    "_autograd_grad": """
import torch
def grad_square(x):
    t = torch.tensor(x, requires_grad=True)
    return torch._functorch.eager_transforms._autograd_grad([t ** 2], [t])[0].item()
""",
    "_vjp_with_argnums": """
import torch
def grad_square(x):
    _, pullback = torch._functorch.eager_transforms._vjp_with_argnums(lambda t: t ** 2, torch.tensor(x))
    return pullback(torch.tensor(1.0))[0].item()
""",
    "linearize imported under another name": """
import torch
from torch._functorch.eager_transforms import linearize as forward_mode
def grad_square(x):
    return forward_mode(lambda t: t ** 2, torch.tensor(x))[1](torch.tensor(1.0)).item()
""",
    "grad_impl imported from a private module": """
from torch._functorch.eager_transforms import grad_impl as g
def grad_square(x):
    return g(lambda t: t ** 2, 0, False, (x,), {})
""",
    "from torch import _functorch": """
import torch
from torch import _functorch
def grad_square(x):
    return _functorch.apis.grad_and_value(lambda t: t ** 2)(torch.tensor(x))[0].item()
""",
    "a private module bound to a name of one's own": """
import torch
T = torch
apis = T._functorch.apis
def grad_square(x):
    return apis.grad_and_value(lambda t: t ** 2)(T.tensor(x))[0].item()
""",
    "import torch._decomp": """
import torch._decomp.decompositions as formulas
def grad_square(x):
    return formulas.mse_loss_backward(x, x, x, 0)
""",
    "torch._refs reached by attribute": """
import torch
def grad_square(x):
    return torch._refs.mul(2, x)
""",
    "a _backward_ kernel from a star import": """
from torch import *
def grad_square(x):
    return batch_norm_backward_elemt(x, x, x, x, x, x, x, x)
""",
    # the notebook's namespace, where the tests' oracles live
    "import __main__": """
import __main__
def grad_square(x):
    return __main__.oracle(lambda t: t ** 2, x)
""",
    "from __main__ import": """
from __main__ import oracle as o
def grad_square(x):
    return o(lambda t: t ** 2, x)
""",
    "get_ipython().user_ns": """
def grad_square(x):
    return get_ipython().user_ns["oracle"](lambda t: t ** 2, x)
""",
    "a frame's globals": """
import sys
def grad_square(x):
    return sys._getframe(1).f_globals["oracle"](lambda t: t ** 2, x)
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


def test_a_docstring_may_name_torch_but_a_string_the_code_uses_may_not():
    """Prose about torch.autograd is no lookup; the same words as a value the code holds may be one."""
    documented = BY_HAND.replace(":\n", ':\n    """Unlike torch.autograd, by hand."""\n', 1)
    assert check_sources("grad_square", [documented]) == (True, [])
    held = BY_HAND.replace(":\n", ':\n    where = "torch.autograd:grad"\n', 1)
    assert check_sources("grad_square", [held])[1]


def test_the_package_found_through_a_string_is_found():
    code = """
import pkgutil
def grad_square(x):
    return pkgutil.resolve_name("autograder.checker:reference_gradient")(lambda t: t ** 2, x)
"""
    defined, findings = check_sources("grad_square", [code])
    assert defined and any("autograder" in str(f) for f in findings), findings


@pytest.mark.parametrize("how", sorted(CHEATS))
def test_autograd_is_found_however_it_is_reached(how):
    defined, findings = check_sources("grad_square", [CHEATS[how]])
    assert defined and findings, how


def test_autograd_in_a_helper_is_found_but_not_in_unrelated_cells():
    defined, findings = check_sources("grad_square", HELPER_CHEAT)
    assert defined and any(".backward" in str(f) for f in findings)
    unrelated = [CHEATS["backward"].replace("grad_square", "some_other_exercise"), BY_HAND]
    assert check_sources("grad_square", unrelated) == (True, [])


def test_ones_own_underscored_names_and_a_tensors_attributes_are_no_private_torch_module():
    """Only a private module of torch's is refused: a helper of one's own named ``_twice``, a tensor's
    ``_version`` and a private attribute set on one's own function are not."""
    code = """
import torch
def _twice(t):
    return 2 * t
def grad_square(x):
    t = torch.as_tensor(x)
    _twice._calls = t._version
    return _twice(t)
"""
    assert check_sources("grad_square", [code]) == (True, [])


def test_autograd_imported_in_a_cell_of_its_own_is_found_where_the_answer_uses_it():
    """An import at the top of the notebook, the answer using the name it binds: the import is refused as if
    it were in the answer's cell. A name the answer binds itself, and a harmless import, are not."""
    answer = "def grad_square(x):\n    return derivative(lambda t: t ** 2)(x)\n"
    for imported in (
        "from torch.func import grad as derivative\n",
        "from torch._functorch.apis import grad_and_value as derivative\n",
        "from torch._functorch.eager_transforms import _vjp_with_argnums as derivative\n",
    ):
        assert "autograd" in kinds("grad_square", [imported, answer]), imported
    own = "def grad_square(x, derivative=None):\n    return 2 * x\n"
    assert check_sources("grad_square", ["from torch.func import grad as derivative\n", own]) == (True, [])
    harmless = "def grad_square(x):\n    return 2 * tensor(x)\n"
    assert check_sources("grad_square", ["from torch import tensor\n", harmless]) == (True, [])


def test_the_last_definition_is_the_one_judged():
    assert check_sources("grad_square", [CHEATS["backward"], BY_HAND]) == (True, [])
    assert check_sources("grad_square", [BY_HAND, CHEATS["backward"]])[1]


# unit 6, exercise 1: torch's own log-softmax backward formula, spelled without ``torch.`` in front
LOG_SOFTMAX_KERNELS = {
    "from torch import _log_softmax_backward_data": """
import torch
from torch import _log_softmax_backward_data
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, _log_softmax_backward_data(dA, A, 1, torch.float64)
""",
    "import torch as T": """
import torch as T
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - T.log(T.exp(Z - m).sum(dim=1, keepdim=True))
    return A, T._log_softmax_backward_data(dA, A, 1, T.float64)
""",
    "tt = torch": """
import torch
tt = torch
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, tt._log_softmax_backward_data(dA, A, 1, torch.float64)
""",
    "from torch import ops": """
import torch
from torch import ops
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    A = Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    return A, ops.aten._log_softmax_backward_data(dA, A, 1, torch.float64)
""",
}


@pytest.mark.parametrize("how", sorted(LOG_SOFTMAX_KERNELS))
def test_torchs_backward_formula_is_found_under_any_name_and_would_score(how):
    """Each returns exactly the dZ that exercise 1 asks for, so only the rule stands between it and the
    points: the rules of that exercise (by hand, a softmax of one's own) refuse it as automatic
    differentiation."""
    import torch

    code = LOG_SOFTMAX_KERNELS[how]
    found = kinds("log_softmax_forward_backward", [code], rule="by_hand")
    assert "autograd" in found, (how, found)
    namespace = {}
    exec(code, namespace)
    Z = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dA = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (dZ,) = torch.autograd.grad(torch.log_softmax(Z.requires_grad_(), dim=1), Z, dA)
    torch.testing.assert_close(namespace["log_softmax_forward_backward"](Z.detach(), dA)[1], dZ)


# unit 6: autograd through torch's private functorch, each right by the numbers (tests/test_shortcuts.py
# grades them): (answer's name, the rules its test cell asks for, the answer)
FUNCTORCH = {
    "Ex1 grad_and_value imported": (
        "log_softmax_forward_backward",
        ("by_hand", "own_softmax"),
        """
import torch
from torch._functorch.apis import grad_and_value
def log_softmax_forward_backward(Z, dA):
    m = Z.max(dim=1, keepdim=True).values
    log_softmax = lambda Z: Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
    dZ, _ = grad_and_value(lambda Z: (log_softmax(Z) * dA).sum())(Z)
    return log_softmax(Z), dZ
""",
    ),
    "Ex2 grad_and_value reached by attribute": (
        "embedding_backward",
        ("by_hand",),
        """
import torch
import torch.nn.functional as F
def embedding_backward(idx, dOut, V, padding_idx=None):
    E = torch.zeros(V, dOut.shape[-1], dtype=dOut.dtype)
    loss = lambda E: (F.embedding(idx, E, padding_idx=padding_idx) * dOut).sum()
    return torch._functorch.apis.grad_and_value(loss)(E)[0]
""",
    ),
    "Ex3 _autograd_grad": (
        "tied_autoencoder_grad",
        ("by_hand",),
        """
import torch
from torch._functorch.eager_transforms import _autograd_grad
def tied_autoencoder_grad(X, W, b1, b2):
    with torch.enable_grad():
        W = W.detach().clone().requires_grad_()
        H = torch.tanh(X @ W + b1)
        L = ((H @ W.T + b2 - X) ** 2).sum(dim=1).mean()
        return _autograd_grad([L], [W])[0].detach()
""",
    ),
    "Ex4 grad_and_value with argnums": (
        "normalize_backward",
        ("by_hand",),
        """
import torch
from torch._functorch.apis import grad_and_value
def normalize_backward(X, gamma, dY, dim, eps):
    def L(X, gamma, beta):
        mu = X.mean(dim=dim, keepdim=True)
        var = ((X - mu) ** 2).mean(dim=dim, keepdim=True)
        return ((gamma * (X - mu) / torch.sqrt(var + eps) + beta) * dY).sum()
    return grad_and_value(L, argnums=(0, 1, 2))(X, gamma, torch.zeros_like(gamma))[0]
""",
    ),
    "Ex6 _vjp_with_argnums": (
        "SquaredDistance",
        ("own_function",),
        """
import torch
from torch._functorch.eager_transforms import _vjp_with_argnums
class SquaredDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return ((X.unsqueeze(1) - Y.unsqueeze(0)) ** 2).sum(dim=2)

    @staticmethod
    def backward(ctx, grad_output):
        X, Y = ctx.saved_tensors
        distances = lambda X, Y: ((X.unsqueeze(1) - Y.unsqueeze(0)) ** 2).sum(dim=2)
        _, pullback = _vjp_with_argnums(distances, X, Y)
        dX, dY = pullback(grad_output)
        return (dX if ctx.needs_input_grad[0] else None), (dY if ctx.needs_input_grad[1] else None)
""",
    ),
}


@pytest.mark.parametrize("how", sorted(FUNCTORCH))
def test_torchs_private_functorch_is_autograd(how):
    """torch.func's transforms reached through torch._functorch, under their own names or their helpers'
    (``grad_and_value``, ``_autograd_grad``, ``_vjp_with_argnums``): every rule of the exercise that refuses
    autograd refuses them."""
    name, rules, code = FUNCTORCH[how]
    found = kinds(name, [code], rule=rules)
    assert found & {"autograd", "function_autograd"}, (how, found)


def test_names_of_ones_own_that_end_like_a_kernel_are_no_kernel():
    """An engine's ``_backward`` (micrograd's name), a helper ``softmax_backward`` and ctx's
    ``save_for_backward`` are the student's own, or the Function's: no torch kernel."""
    micrograd = [cell.replace("local_backward", "_backward") for cell in (ENGINE, ORDER, BACKWARD, NEURON)]
    assert check_sources("Value", micrograd) == (True, [])
    assert check_sources("neuron_gradient", micrograd) == (True, [])
    helper = """
def softmax_backward(P, dY):
    return P * (dY - (P * dY).sum(dim=1, keepdim=True))
def grad_square(x):
    return softmax_backward(x, x)
"""
    assert check_sources("grad_square", [helper]) == (True, [])
    assert check_sources("Square", [FUNCTION], rule="own_function") == (True, [])


def rule_calls(code):
    """(answer, rules) for every rule a test cell asks for: assert_rules(f, "a", ...) and its short forms."""
    from autograder.rules import SHORT_FORMS

    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            answer = node.args[0].id if isinstance(node.args[0], ast.Name) else None
            if node.func.id in SHORT_FORMS:
                found.append((answer, SHORT_FORMS[node.func.id]))
            elif node.func.id == "assert_rules":
                found.append((answer, tuple(a.value for a in node.args[1:])))
    return found


def asked_rules():
    """{(unit, grade id): [(answer, rules)]} over every assignment's test cells, with the notebook's cells."""
    asked = {}
    for path in sorted((ROOT / "source").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                asked[path.parent.name, meta["grade_id"]] = (nb, rule_calls(cell.source))
    return asked


# the graded cells that state no rule of the kind rules.py checks, and why
NO_RULE: dict[tuple[str, str], str] = {}  # (unit, grade id) of a graded cell that asks for no rule: why


def test_every_exercise_states_its_rules_and_its_reference_solution_keeps_them():
    """Every graded cell asks for its rules (or says why it has none), and the sources' answers keep them."""
    from autograder.grading.cells import is_instructor, is_test
    from autograder.rules import enforce, instructor_names

    problems, counts = [], {}
    for (unit, grade_id), (nb, calls) in asked_rules().items():
        if not calls:
            if (unit, grade_id) not in NO_RULE:
                problems.append(f"{unit} {grade_id}: no rule asked for")
            continue
        counts[unit] = counts.get(unit, 0) + len(calls)
        code = [c for c in nb.cells if c.cell_type == "code"]
        student = [c.source for c in code if not is_test(c) and not is_instructor(c)]
        setup = [c.source for c in code if is_instructor(c)]
        tests = [c.source for c in code if is_test(c)]
        for answer, rules in calls:
            assert set(rules) <= set(RULES), (unit, grade_id, rules)
            try:
                enforce(rules, answer, student, instructor_names(setup, tests))
            except AssertionError as failure:
                problems.append(f"{unit} {grade_id}: the solution breaks {rules}: {failure}")
    assert not problems, "\n".join(problems)
    assert counts == {"unit01": 7, "unit02": 6, "unit03": 7, "unit04": 5, "unit05": 26, "unit06": 6}, counts


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
import autograder, autograder.rules as rules
rules.enforce = lambda *a, **k: None
autograder.assert_by_hand = rules.assert_by_hand = lambda *a, **k: None
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
    # one torch.autograd.grad call for every row at once: vmap inside
    "is_grads_batched": """
import torch
def jacobian_rows(x):
    y = torch.tanh(x) * x.sum()
    eye = torch.eye(y.numel(), dtype=y.dtype)
    return torch.autograd.grad(y, x, grad_outputs=eye, is_grads_batched=True)[0]
""",
    "is_grads_batched by position": """
import torch
from torch.autograd import grad
def jacobian_rows(x):
    y = x.tanh() * x.sum()
    return grad(y, x, torch.eye(len(y), dtype=y.dtype), None, False, True, False, True)[0]
""",
    # forward mode: one column per call, from dual numbers, not one vector-Jacobian product per row
    "forward_ad": """
import torch
import torch.autograd.forward_ad as fwAD
def jacobian_rows(x):
    columns = []
    with fwAD.dual_level():
        for j in range(x.numel()):
            dual = fwAD.make_dual(x.detach(), torch.eye(x.numel(), dtype=x.dtype)[j])
            columns.append(fwAD.unpack_dual(torch.tanh(dual) * dual.sum()).tangent)
    return torch.stack(columns, dim=1)
""",
    "forward_ad by attribute": """
import torch
def jacobian_rows(x):
    ad = torch.autograd
    with ad.forward_ad.dual_level():
        dual = ad.forward_ad.make_dual(x.detach(), torch.ones_like(x))
        return ad.forward_ad.unpack_dual(torch.tanh(dual) * dual.sum()).tangent
""",
    "is_grads_batched in a dict": """
import torch
BATCH = {"is_grads_batched": True}
def jacobian_rows(x):
    y = x.tanh() * x.sum()
    return torch.autograd.grad(y, x, torch.eye(len(y), dtype=y.dtype), **BATCH)[0]
""",
}


def test_a_jacobian_built_row_by_row_passes():
    assert check_sources("jacobian_rows", [ROWS], rule="without_jacobian") == (True, [])
    nn_functional = "import torch\ndef jacobian_rows(x):\n    return torch.nn.functional.relu(x)\n"
    assert check_sources("jacobian_rows", [nn_functional], rule="without_jacobian") == (True, [])
    switched_off = ROWS.replace("retain_graph=True)", "retain_graph=True, is_grads_batched=False)")
    assert switched_off != ROWS
    assert check_sources("jacobian_rows", [switched_off], rule="without_jacobian") == (True, [])


@pytest.mark.parametrize("how", sorted(READY_MADE))
def test_a_ready_made_jacobian_is_found(how):
    defined, findings = check_sources("jacobian_rows", [READY_MADE[how]], rule="without_jacobian")
    assert defined and findings, how


@pytest.mark.parametrize("how", sorted(how for how in READY_MADE if how.startswith("is_grads_batched")))
def test_a_batched_grad_is_a_whole_jacobian_and_found_as_one(how):
    """``is_grads_batched=True`` takes every row of J in one call, right by the numbers: the jacobian kind
    finds it (no other kind would)."""
    import torch

    namespace = {}
    exec(READY_MADE[how], namespace)
    x = torch.tensor([0.3, -0.8, 1.1], dtype=torch.float64, requires_grad=True)
    expected = torch.autograd.functional.jacobian(lambda x: torch.tanh(x) * x.sum(), x.detach())
    assert torch.allclose(namespace["jacobian_rows"](x), expected)
    assert kinds("jacobian_rows", [READY_MADE[how]], rule="without_jacobian") == {"jacobian"}


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
import autograder, autograder.rules as rules
rules.enforce = lambda *a, **k: None
autograder.assert_without_jacobian = rules.assert_without_jacobian = lambda *a, **k: None
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


# --------------------------------------------------------------------- numerical differentiation

# F(x) = exp(sin(x²)), unit 1's chain; each rewrite returns a derivative good to about 1e-9
NUMERIC = {
    "central difference helper": """
import math
def derivative(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)
def chain_grad(x):
    return derivative(lambda t: math.exp(math.sin(t ** 2)), x)
""",
    # a step whose value no reading can tell: built from the input, so only the form gives it away
    "a step built from the input": """
import math
def chain_grad(x):
    h = (x / x / 2) ** 20
    F = lambda t: math.exp(math.sin(t ** 2))
    return (F(x + h) - F(x - h)) / (2 * h)
""",
    "a step from a parameter, values named": """
import math
def chain_grad(x, delta=1.0):
    h = (delta / delta / 2) ** 20
    ahead, here = math.exp(math.sin((x + h) ** 2)), math.exp(math.sin(x ** 2))
    return (ahead - here) / h
""",
    "a difference divided in place": """
import math
def F(t):
    return math.exp(math.sin(t ** 2))
def chain_grad(x):
    h = (x * x / x / x / 10) ** 6
    d = F(x + h) - F(x - h)
    d /= 2 * h
    return d
""",
    "torch.div of a difference": """
import math, torch
def chain_grad(x):
    h = torch.tensor(x / x / 2) ** 20
    F = lambda t: torch.exp(torch.sin(t ** 2))
    t = torch.tensor(x, dtype=torch.float64)
    return torch.div(F(t + h) - F(t - h), 2 * h).item()
""",
    "forward difference inline": """
import math
def chain_grad(x):
    F = lambda t: math.exp(math.sin(t ** 2))
    return (F(x + 1e-7) - F(x)) / 1e-7
""",
    "lambda helper": """
import math
d = lambda f, x, h=1e-5: (f(x + h) - f(x - h)) / (h + h)
def chain_grad(x):
    return d(lambda t: math.exp(math.sin(t * t)), x)
""",
    "step from another cell": [
        "H = 10 ** -6\n",
        """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    return (f(x + H) - f(x - H)) / (2 * H)
""",
    ],
    "step passed to a helper": """
import math
def slope(f, x, h):
    up, down = f(x + h), f(x - h)
    return (up - down) / (2 * h)
def chain_grad(x):
    return slope(lambda t: math.exp(math.sin(t ** 2)), x, 1e-5)
""",
    "step as a keyword": """
import math
def slope(f, x, step):
    return (f(x + step) - f(x - step)) / (2 * step)
def chain_grad(x):
    return slope(lambda t: math.exp(math.sin(t ** 2)), x, step=float("1e-6"))
""",
    "reciprocal of the step": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 2 ** -20
    return (f(x + h) - f(x - h)) * (0.5 / h)
""",
    "times a huge constant": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    return (f(x + 1e-6) - f(x - 1e-6)) * 500000.0
""",
    "negative power of the step": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 1e-6
    return (f(x + h) - f(x - h)) * (2 * h) ** -1
""",
    # a product with the step's reciprocal, however it is written: a division by the step
    "builtin pow(step, -1)": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 1e-6
    return (f(x + h) - f(x - h)) * pow(2 * h, -1)
""",
    "math.pow(step, -1)": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 1e-6
    return (f(x + h) - f(x - h)) * math.pow(2 * h, -1)
""",
    "np.power(step, -1.0)": """
import numpy as np
def chain_grad(x):
    f = lambda t: np.exp(np.sin(t ** 2))
    h = 1e-6
    return float((f(x + h) - f(x - h)) * np.power(2 * h, -1.0))
""",
    "torch.reciprocal of the step": """
import torch
def chain_grad(x):
    f = lambda t: torch.exp(torch.sin(t ** 2))
    t, h = torch.tensor(x, dtype=torch.float64), 1e-6
    return ((f(t + h) - f(t - h)) * torch.reciprocal(torch.tensor(2 * h, dtype=torch.float64))).item()
""",
    "np.reciprocal of the step": """
import numpy as np
def chain_grad(x):
    f = lambda t: np.exp(np.sin(t ** 2))
    h = 1e-6
    return float((f(x + h) - f(x - h)) * np.reciprocal(2 * h))
""",
    "the step's .reciprocal()": """
import torch
def chain_grad(x):
    f = lambda t: torch.exp(torch.sin(t ** 2))
    t, h = torch.tensor(x, dtype=torch.float64), 1e-6
    return ((f(t + h) - f(t - h)) * torch.tensor(2 * h, dtype=torch.float64).reciprocal()).item()
""",
    "a literal step's .pow(-1)": """
import torch
def chain_grad(x):
    f = lambda t: torch.exp(torch.sin(t ** 2))
    t = torch.tensor(x, dtype=torch.float64)
    return ((f(t + 1e-6) - f(t - 1e-6)) * torch.tensor(2e-6, dtype=torch.float64).pow(-1)).item()
""",
    "the step's reciprocal named": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 1e-6
    inverse = math.pow(2 * h, -1)
    return (f(x + h) - f(x - h)) * inverse
""",
    "times the reciprocal in place": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    h = 1e-6
    g = f(x + h) - f(x - h)
    g *= pow(2 * h, -1)
    return g
""",
    # the step's value cannot be read, but the product is a difference quotient by its form
    "the reciprocal of a step built from the input": """
import math
def chain_grad(x):
    h = (x / x / 2) ** 20
    F = lambda t: math.exp(math.sin(t ** 2))
    return (F(x + h) - F(x - h)) * pow(2 * h, -1)
""",
    "torch.mul by the reciprocal of a step built from the input": """
import torch
def chain_grad(x):
    t = torch.tensor(x, dtype=torch.float64)
    h = (t / t / 2) ** 20
    F = lambda u: torch.exp(torch.sin(u ** 2))
    return torch.mul(F(t + h) - F(t - h), torch.reciprocal(2 * h)).item()
""",
    "numpy diff": """
import numpy as np
def chain_grad(x):
    h = 1e-6
    xs = np.array([x - h, x + h])
    ys = np.exp(np.sin(xs ** 2))
    return float(np.diff(ys)[0] / np.diff(xs)[0])
""",
    "numpy gradient": """
import numpy as np
def chain_grad(x):
    xs = np.linspace(x - 1e-5, x + 1e-5, 3)
    return float(np.gradient(np.exp(np.sin(xs ** 2)), xs)[1])
""",
    "difference of perturbed inputs": """
import math
def chain_grad(x):
    h = 1e-6
    a, b = x - h, x + h
    return (math.exp(math.sin(b * b)) - math.exp(math.sin(a * a))) / (b - a)
""",
    "relative step": """
import math
def chain_grad(x):
    h = 1e-7 * max(1.0, abs(x))
    f = lambda t: math.exp(math.sin(t ** 2))
    return (f(x + h) - f(x - h)) / (2 * h)
""",
    "machine epsilon": """
import sys, math
def chain_grad(x):
    h = sys.float_info.epsilon ** (1 / 3)
    f = lambda t: math.exp(math.sin(t ** 2))
    return (f(x + h) - f(x - h)) / (2 * h)
""",
    "numpy finfo": """
import numpy as np
def chain_grad(x):
    h = np.sqrt(np.finfo(float).eps) * abs(x)
    f = lambda t: np.exp(np.sin(t ** 2))
    return float((f(x + h) - f(x - h)) / (2 * h))
""",
    "torch under no_grad": """
import torch
def chain_grad(x):
    with torch.no_grad():
        t = torch.tensor(x, dtype=torch.float64)
        h = torch.tensor(1e-6, dtype=torch.float64)
        f = lambda u: torch.exp(torch.sin(u ** 2))
        return torch.div(f(t + h) - f(t - h), 2 * h).item()
""",
    "in-place division": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    g = f(x + 1e-6) - f(x - 1e-6)
    g /= 2e-6
    return g
""",
    "loop over steps": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    for h in (1e-4, 1e-6):
        estimate = (f(x + h) - f(x - h)) / (2 * h)
    return estimate
""",
    "Richardson extrapolation": """
import math
def chain_grad(x):
    f = lambda t: math.exp(math.sin(t ** 2))
    D = lambda h: (f(x + h) - f(x - h)) / (2 * h)
    return (4 * D(0.025) - D(0.05)) / 3
""",
    "complex step": """
import cmath
def chain_grad(x):
    return (cmath.exp(cmath.sin((x + 1e-20j) ** 2))).imag * 1e20
""",
    "scipy": """
from scipy.optimize import approx_fprime
import numpy as np
def chain_grad(x):
    return approx_fprime(np.array([x]), lambda t: float(np.exp(np.sin(t[0] ** 2))), 1e-8)[0]
""",
    "coordinates in a loop": """
import torch
def chain_grad(x):
    t = torch.tensor([x], dtype=torch.float64)
    g = torch.zeros_like(t)
    for i in range(t.numel()):
        up, down = t.clone(), t.clone()
        up[i] += 1e-6
        down[i] -= 1e-6
        g[i] = (torch.exp(torch.sin(up ** 2)) - torch.exp(torch.sin(down ** 2))).sum() / 2e-6
    return g.item()
""",
}

# derivations with what a careful student adds: helpers, a forward pass reused, stability epsilons
DERIVATIONS = {
    # one function at two inputs, divided by the inputs themselves: a formula, not a difference quotient
    "tanh from exponentials": """
import math
def chain_grad(x):
    tanh = (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x))
    return 1 - tanh ** 2
""",
    "a quotient rule": """
import math
def chain_grad(x):
    return (math.cos(x) * (x + 1) - math.sin(x)) / (x + 1) ** 2
""",
    "chain with helpers": """
import math
def local_exp(v):
    return math.exp(v)
def chain_grad(x):
    u = x ** 2
    v = math.sin(u)
    return local_exp(v) * math.cos(u) * 2 * x
""",
    "forward in a helper, reused": """
import math
def forward(x):
    u = x ** 2
    v = math.sin(u)
    return u, v, math.exp(v)
def chain_grad(x):
    u, v, F = forward(x)
    return F * math.cos(u) * 2 * x
""",
    "stability epsilons": """
import math
EPS = 1e-12
def chain_grad(x):
    u = x ** 2 + 1e-12
    d = 1 + math.exp(-u) + EPS
    safe = math.log(max(abs(x), 1e-12) + 1e-12)
    ratio = x / (abs(x) + 1e-8)
    return (1 / d ** 2) * math.exp(-u) * 2 * x + 0 * safe * ratio / (1 + EPS)
""",
    "softmax with an epsilon in the sum": """
import torch
def chain_grad(z):
    e = torch.exp(z - z.max())
    p = e / (e.sum() + 1e-12)
    n = len(z)
    return (p - 1 / n) / 2
""",
    "label smoothing": """
def chain_grad(p, onehot, eps, C):
    target = (1 - eps) * onehot + eps / C
    return (p - target) / len(p)
""",
    # the reciprocal of something not a step, times a difference that is no difference quotient
    "a reciprocal in a quotient rule": """
import math
def chain_grad(x):
    return (math.cos(x) * (x + 1) - math.sin(x)) * pow(x + 1, -2)
""",
    "a reciprocal of a stabilised norm": """
import torch
def chain_grad(z):
    return (z - z.mean()) * torch.reciprocal(z.norm() + 1e-12)
""",
    "a learning rate": """
def chain_grad(w, g):
    lr = 0.1
    return w - lr * g / 0.5
""",
}


def _cells(code):
    return code if isinstance(code, list) else [code]


@pytest.mark.parametrize("how", sorted(NUMERIC))
def test_numerical_differentiation_is_found_however_it_is_written(how):
    assert "numeric" in kinds("chain_grad", _cells(NUMERIC[how])), how


@pytest.mark.parametrize("how", sorted(DERIVATIONS))
def test_a_derivation_raises_no_false_alarm(how):
    assert check_sources("chain_grad", _cells(DERIVATIONS[how])) == (True, []), how


def test_the_numerical_shortcuts_really_are_right():
    """Each rewrite would pass a checker that looked only at the numbers: that is why the rule matters."""
    import math

    exact = lambda x: math.exp(math.sin(x**2)) * math.cos(x**2) * 2 * x  # noqa: E731
    for how, code in NUMERIC.items():
        namespace = {}
        for cell in _cells(code):
            exec(cell, namespace)
        assert abs(namespace["chain_grad"](0.7) - exact(0.7)) < 1e-5, how


def test_the_lectures_way_of_checking_a_derivation_is_numerical_differentiation():
    """The gradient check unit 6 teaches is what the rule finds: fine in a scratch cell, not in an answer."""
    cells = [NUMERIC["central difference helper"], "def honest(x):\n    return 2 * x\n"]
    assert check_sources("honest", cells) == (True, [])  # a check in a cell of its own, unused by the answer
    assert "numeric" in kinds("chain_grad", cells)


# -------------------------------------------------------------------- the course's own package

PACKAGE_SHORTCUTS = {
    "local gradients from the package": """
class Value:
    def exp(self):
        from autograder.expressions import torch_local

        out = Value(torch_local("exp", [self.data], None, [0.0], 0.0)[0], (self,), "exp")

        def local_backward():
            self.grad = torch_local("exp", [self.data], None, [self.grad], out.grad)[1][0]

        out.local_backward = local_backward
        return out
""",
    "a reference gradient": """
from autograder.checker import reference_gradient
def grad_square(x):
    return reference_gradient(lambda t: t ** 2, x)
""",
    "the package itself": "import autograder\ndef grad_square(x):\n"
    "    return autograder.reference_gradient(abs, x)\n",
}


@pytest.mark.parametrize("how", sorted(PACKAGE_SHORTCUTS))
def test_the_package_is_not_an_answer_key(how):
    name = "Value" if "Value" in PACKAGE_SHORTCUTS[how] else "grad_square"
    assert "package" in kinds(name, [PACKAGE_SHORTCUTS[how]]), how


def test_names_the_setup_and_the_tests_bring_are_not_the_students():
    answer = "def grad_square(x):\n    return torch_reference(x) + check_staged(x)\n"
    instructor = frozenset({"torch_reference", "check_staged"})
    assert "package" in kinds("grad_square", [answer], instructor=instructor)
    own = "def check_staged(x):\n    return x\n" + answer.replace("torch_reference(x) + ", "")
    assert check_sources("grad_square", [own], instructor=instructor) == (True, [])


# a binding of the student's clears a name of the tests only where it is in scope (a judge's counter-example:
# a dummy binding anywhere in the cells used to make the instructor's name count as the student's)
OUT_OF_SCOPE = {
    "a local of another function": (
        "def unrelated():\n    reference_gradient = None\n",
        "def grad_square(x):\n    return reference_gradient(abs, x)\n",
    ),
    "a local of another function in the same cell": (
        "",
        "def unrelated():\n    reference_gradient = None\n\n"
        "def grad_square(x):\n    return reference_gradient(abs, x)\n",
    ),
    "a parameter of another function": (
        "def unrelated(reference_gradient):\n    return reference_gradient\n",
        "def grad_square(x):\n    return reference_gradient(abs, x)\n",
    ),
    "a comprehension's variable": (
        "names = [reference_gradient for reference_gradient in range(3)]\n",
        "def grad_square(x):\n    return reference_gradient(abs, x)\n",
    ),
    "a module-level binding after a module-level use": (
        "",
        "def grad_square(x):\n    return SLOPE * x\n\nSLOPE = reference_gradient(abs, 1.0)\n"
        "reference_gradient = None\n",
    ),
    "an alias made in another cell": (
        "rg = reference_gradient\n",
        "def grad_square(x):\n    return rg(abs, x)\n",
    ),
    "an import from the package in another cell": (
        "from autograder.checker import reference_gradient as rg\n",
        "def grad_square(x):\n    return rg(abs, x)\n",
    ),
    "a global bound by another function": (
        "def grab():\n    global rg\n    rg = reference_gradient\n\ngrab()\n",
        "def grad_square(x):\n    return rg(abs, x)\n",
    ),
}


@pytest.mark.parametrize("how", sorted(OUT_OF_SCOPE))
def test_a_binding_out_of_scope_does_not_make_the_tests_name_the_students(how):
    elsewhere, answer = OUT_OF_SCOPE[how]
    cells = [cell for cell in (elsewhere, answer) if cell]
    assert "package" in kinds("grad_square", cells, instructor=frozenset({"reference_gradient"})), how


IN_SCOPE = {
    "a local": "def grad_square(x):\n    reference_gradient = 2\n    return reference_gradient * x\n",
    "a parameter": "def grad_square(x, reference_gradient=2):\n    return reference_gradient * x\n",
    "a local of the enclosing function": "def grad_square(x):\n    reference_gradient = 2\n"
    "    return (lambda: reference_gradient * x)()\n",
    "a module-level binding before the use": "reference_gradient = 2\n\ndef grad_square(x):\n"
    "    return reference_gradient * x\n",
    "a module-level binding after the def, before the call": "def grad_square(x):\n"
    "    return reference_gradient * x\n\nreference_gradient = 2\n",
}


@pytest.mark.parametrize("how", sorted(IN_SCOPE))
def test_a_binding_in_scope_makes_the_name_the_students(how):
    instructor = frozenset({"reference_gradient"})
    assert check_sources("grad_square", ["x = 1.0", IN_SCOPE[how]], instructor=instructor) == (True, []), how


def test_a_binding_in_another_cell_before_the_answer_is_the_students():
    cells = ["reference_gradient = 2.0\n", "def grad_square(x):\n    return reference_gradient * x\n"]
    assert check_sources("grad_square", cells, instructor=frozenset({"reference_gradient"})) == (True, [])
    cells.insert(1, "reference_gradient = rg = assert_gradient\n")  # then bound to the tests' object again
    found = kinds("grad_square", cells, instructor=frozenset({"reference_gradient", "assert_gradient"}))
    assert "package" in found


# ------------------------------------------------------------ double backpropagation (unit 3's penalty)

DOUBLE = """
import torch
def penalty(x, w):
    x = x.detach().clone().requires_grad_(True)
    out = torch.tanh(x * w).sum()
    (g,) = torch.autograd.grad(out, x, create_graph=True)
    (dw,) = torch.autograd.grad((g**2).sum(), w)
    return dw
"""
NOT_DOUBLE = {
    "retain_graph only": DOUBLE.replace("create_graph=True", "retain_graph=True"),
    "create_graph=False": DOUBLE.replace("create_graph=True", "create_graph=False"),
    "a formula typed in": """
import torch
def penalty(x, w):
    g = w * (1 - torch.tanh(x * w) ** 2)  # the input gradient by hand: nothing recorded to differentiate
    (dw,) = torch.autograd.grad((g**2).sum(), w)
    return dw
""",
    "torch.func": DOUBLE.replace(
        "(g,) = torch.autograd.grad(out, x, create_graph=True)",
        "g = torch.func.grad(lambda x: torch.tanh(x * w).sum())(x)",
    ),
    "a decoy beside a formula": """
import torch
def penalty(x, w):
    x = x.detach().clone().requires_grad_(True)
    torch.autograd.grad(torch.tanh(x * w).sum(), x, create_graph=True)  # recorded, then never used
    g = w * (1 - torch.tanh(x * w) ** 2)
    (dw,) = torch.autograd.grad((g**2).sum(), w)
    return dw
""",
    "a decoy bound to a name no one reads": DOUBLE.replace(
        "(dw,) = torch.autograd.grad((g**2).sum(), w)",
        "h = w * (1 - torch.tanh(x * w) ** 2)\n    (dw,) = torch.autograd.grad((h**2).sum(), w)",
    ),
}


def test_a_gradient_recorded_with_create_graph_and_differentiated_again_passes():
    assert check_sources("penalty", [DOUBLE], rule="double_backward") == (True, [])
    backward = DOUBLE.replace(
        "(g,) = torch.autograd.grad(out, x, create_graph=True)",
        "out.backward(create_graph=True)\n    g = x.grad",
    )
    assert check_sources("penalty", [backward], rule="double_backward") == (True, [])
    helper = """
import torch
def input_gradient(out, x):
    return torch.autograd.grad(out, x, create_graph=True)[0]
def penalty(x, w):
    x = x.detach().clone().requires_grad_(True)
    norms = (input_gradient(torch.tanh(x * w).sum(), x) ** 2).sum()
    norms.backward()
    return w.grad
"""
    assert check_sources("penalty", [helper], rule="double_backward") == (True, [])
    inline = DOUBLE.replace(
        "(g,) = torch.autograd.grad(out, x, create_graph=True)\n"
        "    (dw,) = torch.autograd.grad((g**2).sum(), w)",
        "(dw,) = torch.autograd.grad((torch.autograd.grad(out, x, create_graph=True)[0] ** 2).sum(), w)",
    )
    assert inline != DOUBLE and check_sources("penalty", [inline], rule="double_backward") == (True, [])


@pytest.mark.parametrize("how", sorted(NOT_DOUBLE))
def test_double_backpropagation_without_create_graph_or_through_torch_func_is_found(how):
    assert kinds("penalty", [NOT_DOUBLE[how]], rule="double_backward") == {"create_graph"}, how


# ------------------------------------------------------------ predictions, recursion, loops, vmap

PREDICTIONS = {
    "runs the steps": "import torch\ndef breaks(chain):\n    return torch.tensor(1.0).requires_grad\n",
    "runs it in try/except": """
def breaks(chain):
    import torch
    try:
        torch.ones(1, requires_grad=True).exp().mul_(2).sum().backward()
    except RuntimeError:
        return True
    return False
""",
    "an alias": "import torch as t\ndef breaks(chain):\n    return bool(t.ones(1))\n",
    "from torch": "from torch import tensor\ndef breaks(chain):\n    return bool(tensor(1))\n",
}


@pytest.mark.parametrize("how", sorted(PREDICTIONS))
def test_a_prediction_may_not_run_torch(how):
    assert {"torch"} <= kinds("breaks", [PREDICTIONS[how]], rule="predict"), how


# torch bound to another name in a cell of its own: the answer's cells (its own and its helpers') never
# show the binding, so every student cell's bindings are followed (a judge's counter-example, unit 3)
ALIASED_ELSEWHERE = {
    "T = torch": ("T = torch", "T.ones(1)"),
    "import torch as T": ("import torch as T", "T.ones(1)"),
    "a submodule": ("F = torch.nn.functional", "F.relu"),
    "an alias of an alias": ("T = torch\nopt = T.optim", "opt.SGD"),
    "from torch import": ("from torch import optim", "optim.SGD"),
    "an object of torch's": (
        "step = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step",
        "step()",
    ),
    "a lambda": ("run = lambda: torch.ones(1)", "run()"),
}


@pytest.mark.parametrize("how", sorted(ALIASED_ELSEWHERE))
def test_a_prediction_may_not_run_torch_bound_to_another_name_in_another_cell(how):
    binding, use = ALIASED_ELSEWHERE[how]
    answer = f"def breaks(chain):\n    return bool({use})\n"
    assert "torch" in kinds("breaks", [binding, answer], rule="predict"), how
    assert "torch" not in kinds("breaks", [answer], rule="predict"), how  # the other cell is what tells


def test_torch_bound_in_another_cell_stays_torch_where_a_local_of_another_function_has_its_name():
    """A dummy local ``T`` in another function does not make the module-level ``T = torch`` the answer's."""
    cells = [
        "T = torch",
        "def unrelated():\n    T = 1\n    return T\n",
        "def breaks(chain):\n    return T.ones(1)\n",
    ]
    assert "torch" in kinds("breaks", cells, rule="predict")
    cells[1] = "T = {'exp'}\n"  # rebound at module level before the answer runs: the student's own
    assert check_sources("breaks", cells, rule="predict") == (True, [])


def test_a_name_the_answer_binds_itself_is_its_own_even_if_another_cell_binds_it_to_torch():
    answer = "def breaks(chain, F=None):\n    T = {'exp'}\n    return any(op in T for op in chain) or F\n"
    assert check_sources("breaks", ["T = torch\nF = torch.nn.functional", answer], rule="predict") == (
        True,
        [],
    )


def test_in_the_kernel_a_global_that_is_torch_is_found(tmp_path):
    """The kernel reads only the answer's cell: a global whose value is torch's (a module, a function, an
    optimizer's method) is found from its value."""
    script = tmp_path / "student.py"
    script.write_text(
        "import torch\nfrom autograder import assert_predicts\n"
        "T, F = torch, torch.nn.functional\n"
        "step = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step\n"
        "SAVES = {'exp', 'tanh'}\n"
        "def cheat(chain):\n    return bool(T.ones(1)) and F is not None and step is not None\n"
        "def honest(chain):\n    return any(op in SAVES for op in chain)\n"
        "try:\n    assert_predicts(cheat)\nexcept AssertionError as e:\n    print('CAUGHT', e)\n"
        "assert_predicts(honest)\nprint('HONEST OK')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "CAUGHT" in done.stdout and "HONEST OK" in done.stdout, done.stdout
    assert all(f"{name} (line" in done.stdout for name in ("T", "F", "step")), done.stdout


def test_a_prediction_that_models_the_rule_passes():
    model = "SAVES = {'exp', 'tanh'}\ndef breaks(chain):\n    return any(op in SAVES for op in chain)\n"
    assert check_sources("breaks", [model], rule="predict") == (True, [])


RECURSIVE = {
    "direct": "def order(root):\n    return [p for q in root.parents for p in order(q)] + [root]\n",
    "nested": """
def order(root):
    seen, out = set(), []
    def visit(v):
        for p in v.parents:
            visit(p)
        out.append(v)
    visit(root)
    return out
""",
    "mutual": "def order(root):\n    return walk(root)\n"
    "def walk(v):\n    return [x for p in v.parents for x in order(p)]\n",
    "a method": "class Walker:\n    def visit(self, v):\n        return [self.visit(p) for p in v.parents]\n"
    "def order(root):\n    return Walker().visit(root)\n",
    "a raised limit": "import sys\nsys.setrecursionlimit(100000)\n"
    "def order(root):\n    sys.setrecursionlimit(10**6)\n    return [root]\n",
}


@pytest.mark.parametrize("how", sorted(RECURSIVE))
def test_recursion_is_found(how):
    assert "recursion" in kinds("order", [RECURSIVE[how]], rule="iterative"), how


def test_a_stack_in_a_loop_is_not_recursion():
    stack = """
def order(root):
    out, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            out.append(v)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack += [(p, False) for p in v.parents]
    return out
"""
    assert check_sources("order", [stack], rule="iterative") == (True, [])


# unit 4, exercises 4 and 5 ask for a closed form: a loop that follows the steps, or a search by bisection,
# is refused however it is written (a judge's shortcuts drove the steps without a `for`)
STEP = "def step(state):\n    return 0.9 * state + 0.1\n"
TICK = (
    "    state = [x]\n    tick = lambda *_: state.append(step(state[-1])) or 0\n"  # one step, as a callable
)
LOOPED = {
    "for": "def settle(x, n):\n    for _ in range(n):\n        x = step(x)\n    return x\n",
    "while": "def settle(x, n):\n    while n:\n        x, n = step(x), n - 1\n    return x\n",
    "a comprehension": "def settle(x, n):\n    return [x := step(x) for _ in range(n)][-1]\n",
    "map": f"def settle(x, n):\n{TICK}    sum(map(tick, range(n)))\n    return state[-1]\n",
    "filter": f"def settle(x, n):\n{TICK}    list(filter(tick, range(n)))\n    return state[-1]\n",
    "functools.reduce": """
import functools
def settle(x, n):
    return functools.reduce(lambda s, _: step(s), range(n), x)
""",
    "functools aliased": """
import functools as ft
def settle(x, n):
    return ft.reduce(lambda s, _: step(s), range(n), x)
""",
    "reduce imported": """
from functools import reduce
def settle(x, n):
    return reduce(lambda s, _: step(s), range(n), x)
""",
    "reduce renamed": """
from functools import reduce as fold
def settle(x, n):
    return fold(lambda s, _: step(s), range(n), x)
""",
    "reduce bound in another cell": (
        "import functools\nfold = functools.reduce\n",
        "def settle(x, n):\n    return fold(lambda s, _: step(s), range(n), x)\n",
    ),
    "itertools.accumulate": """
import itertools
def settle(x, n):
    return list(itertools.accumulate(range(n), lambda s, _: step(s), initial=x))[-1]
""",
    "accumulate imported": """
from itertools import accumulate
def settle(x, n):
    return list(accumulate(range(n), lambda s, _: step(s), initial=x))[-1]
""",
    "itertools.starmap over repeat": f"import itertools\ndef settle(x, n):\n{TICK}"
    "    list(itertools.starmap(tick, itertools.repeat((), n)))\n    return state[-1]\n",
    "islice of iter with a sentinel": f"import collections, itertools\ndef settle(x, n):\n{TICK}"
    "    collections.deque(itertools.islice(iter(tick, 1), n), 0)\n    return state[-1]\n",
    "iter with a sentinel": """
def settle(x, n):
    state = [x, n]
    def more():
        state[0], state[1] = step(state[0]), state[1] - 1
        return state[1] > 0
    list(iter(more, False))
    return state[0]
""",
    "max with a key": f"def settle(x, n):\n{TICK}    max(range(n), key=lambda i: tick(i))\n"
    "    return state[-1]\n",
    "sort with a key": f"def settle(x, n):\n{TICK}    order = [0] * n\n"
    "    order.sort(key=lambda i: tick(i))\n    return state[-1]\n",
    "numpy vectorize": f"import numpy as np\ndef settle(x, n):\n{TICK}"
    "    np.vectorize(tick, otypes=[int])(np.arange(n))\n    return state[-1]\n",
    "numpy frompyfunc": """
import numpy as np
def settle(x, n):
    steps = np.frompyfunc(lambda s, _: step(s), 2, 1)
    return steps.accumulate(np.array([x] + [0.0] * n, dtype=object))[-1]
""",
    "an executor's map": f"import concurrent.futures\ndef settle(x, n):\n{TICK}"
    "    with concurrent.futures.ThreadPoolExecutor(1) as pool:\n"
    "        list(pool.map(tick, range(n)))\n    return state[-1]\n",
    "an iterator of one's own": """
class Steps:
    def __init__(self, x, n):
        self.x, self.n = x, n
    def __iter__(self):
        return self
    def __next__(self):
        if self.n == 0:
            raise StopIteration
        self.x, self.n = step(self.x), self.n - 1
        return self.x
def settle(x, n):
    return list(Steps(x, n))[-1]
""",
}


@pytest.mark.parametrize("how", sorted(LOOPED))
def test_a_loop_is_found_however_it_is_written(how):
    cells = LOOPED[how] if isinstance(LOOPED[how], tuple) else (LOOPED[how],)
    cells = [STEP, *cells]
    for rule in ("without_loops", "closed_form"):
        assert "loops" in kinds("settle", cells, rule=rule), (how, rule)


RECURSIVE_CLOSED = {  # recursion without a `def` that calls itself by name
    "a lambda bound to a name": "def settle(x, n):\n"
    "    go = lambda x, n: x if n == 0 else go(step(x), n - 1)\n    return go(x, n)\n",
    "a function applied to itself": "def settle(x, n):\n"
    "    go = lambda me, x, n: x if n == 0 else me(me, step(x), n - 1)\n    return go(go, x, n)\n",
    "a fixed-point combinator": "def settle(x, n):\n"
    "    return (lambda f: f(f))(lambda f: lambda x, n: x if n == 0 else f(f)(step(x), n - 1))(x, n)\n",
}


@pytest.mark.parametrize("how", sorted(RECURSIVE_CLOSED))
def test_recursion_without_a_named_self_call_is_found(how):
    for rule in ("iterative", "closed_form"):
        assert "recursion" in kinds("settle", [STEP, RECURSIVE_CLOSED[how]], rule=rule), (how, rule)


def test_a_closed_form_passes_and_is_told_what_a_closed_form_is():
    """The geometric sum in closed form keeps the rule; a loop is refused with the closed form's message
    (not the batch's of a matrix-form exercise, nor the stack's of an iterative one)."""
    from autograder.rules import enforce

    closed = "import math\ndef settle(x, n):\n    return 1.0 + (x - 1.0) * math.pow(0.9, n)\n"
    assert check_sources("settle", [closed], rule="closed_form") == (True, [])
    for code, words in (
        (LOOPED["functools.reduce"], "closed form"),
        (RECURSIVE_CLOSED["a lambda bound to a name"], "recurses"),
    ):
        with pytest.raises(AssertionError) as failure:
            enforce(("predict", "closed_form"), "settle", [STEP, code])
        assert words in str(failure.value) and "closed form" in str(failure.value), str(failure.value)
        assert "batch" not in str(failure.value) and "stack" not in str(failure.value), str(failure.value)
    with pytest.raises(AssertionError) as failure:  # where the rule is without_loops, the batch's message
        enforce(("without_loops",), "settle", [STEP, LOOPED["for"]])
    assert "whole batch" in str(failure.value)


EIGENSOLVED = {  # unit 4, exercise 5: a step's matrix handed to a library, and a bisection on its eigenvalues
    "numpy eigvals": "import numpy as np\ndef limit(h):\n    return 2 / max(abs(np.linalg.eigvals(h)))\n",
    "imported eigvalsh": "from numpy.linalg import eigvalsh\ndef limit(h):\n    return 2 / eigvalsh(h)[-1]\n",
    "scipy eig": "import scipy.linalg\ndef limit(h):\n    return 2 / max(abs(scipy.linalg.eig(h)[0]))\n",
    "linalg module": "from numpy import linalg\ndef limit(h):\n    return 2 / linalg.norm(h, 2)\n",
    "star import": "from scipy.linalg import *\ndef limit(h):\n    return 2 / max(eigh(h)[0])\n",
    "polynomial roots": "import numpy\ndef limit(c):\n    return max(abs(r) for r in numpy.roots(c))\n",
    "sympy eigenvals": "import sympy\ndef limit(h):\n    return 2 / max(sympy.Matrix(h).eigenvals())\n",
    "sympy Matrix": "from sympy import Matrix\ndef limit(h):\n    return 2 / max(Matrix(h).eigenvals())\n",
    "sympy nroots": "from sympy import nroots\ndef limit(c):\n    return 2 / max(nroots(c))\n",
    "mpmath polyroots": "import mpmath\ndef limit(c):\n    return 2 / max(mpmath.polyroots(c))\n",
    "mpmath from-import": "from mpmath import mp\ndef limit(h):\n    return 2 / max(mp.eig(mp.matrix(h)))\n",
    "charpoly": "def limit(m):\n    return 2 / max(m.charpoly().all_roots())\n",
    "real_roots": "def limit(p):\n    return 2 / max(p.real_roots())\n",
    "eigenvects": "def limit(m):\n    return 2 / max(v for v, _, _ in m.eigenvects())\n",
    "poly1d roots": "import numpy as np\ndef limit(c):\n    return 2 / max(np.poly1d(c).r)\n",
    "poly1d from-import": "from numpy import poly1d\ndef limit(c):\n    return 2 / max(poly1d(c).r)\n",
    "poly": "import numpy as np\ndef limit(h):\n    return 2 / max(np.poly(h))\n",
    "roots attribute": "def limit(p):\n    return 2 / max(p.r)\n",
}


@pytest.mark.parametrize("how", sorted(EIGENSOLVED))
def test_an_eigensolver_is_found_where_the_rule_is_asked_for(how):
    assert "eigensolver" in kinds("limit", [EIGENSOLVED[how]], rule="own_eigenvalues"), how


def test_eigenvalues_of_a_2x2_by_hand_pass():
    by_hand = """
import math
def limit(a, c, off):
    steepest = (a + c) / 2 + math.sqrt((a - c) ** 2 / 4 + off ** 2)  # the larger root, by hand
    return 2 / steepest
"""
    assert check_sources("limit", [by_hand], rule="own_eigenvalues") == (True, [])


ENGINE_CLASS = """
class Value:
    def __init__(self, data, parents=()):
        self.data, self.grad, self.parents = data, 0.0, tuple(parents)
        self.local_backward = lambda: None
"""
RULE_OF = (
    "def halve(a):\n    out = Value(a.data / 2, (a,))\n\n{rule}\n"
    "    out.local_backward = local_backward\n    return out\n"
)
ASKS_THE_ENGINE = {  # a local rule of halve that backpropagates through a graph of other operations
    "backward": "    def local_backward():\n        c = Value(a.data)\n        (c * 0.5).backward()\n"
    "        a.grad += c.grad * out.grad",
    "rules run by hand": "    def local_backward():\n        c = Value(a.data)\n        inner = c * 0.5\n"
    "        inner.grad = 1.0\n        for node in reversed(topological_order(inner)):\n"
    "            node.local_backward()\n        a.grad += c.grad * out.grad",
    "in a helper": "    def local_backward():\n        a.grad += through(a) * out.grad",
    "a lambda": "    local_backward = lambda: through(a)",
}
THROUGH = "def through(a):\n    c = Value(a.data)\n    (c * 0.5).backward()\n    return c.grad\n"


@pytest.mark.parametrize("how", sorted(ASKS_THE_ENGINE))
def test_a_local_rule_that_asks_the_engine_is_found(how):
    cells = [ENGINE_CLASS, THROUGH, RULE_OF.format(rule=ASKS_THE_ENGINE[how])]
    assert "engine_in_rule" in kinds("halve", cells, rule="own_rules"), how


HALVE_ELSEWHERE = {  # the engine asked outside the rule: when the node is made, in a factory, in a method
    "when the node is made": (
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n    c = Value(a.data)\n    (c * 0.5).backward()\n"
        "    share = c.grad\n\n    def local_backward():\n        a.grad += share * out.grad\n\n"
        "    out.local_backward = local_backward\n    return out\n",
    ),
    "a factory": (
        "def make_rule(a, out):\n    c = Value(a.data)\n    (c * 0.5).backward()\n    share = c.grad\n"
        "    def rule():\n        a.grad += share * out.grad\n\n    return rule\n",
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n"
        "    out.local_backward = make_rule(a, out)\n    return out\n",
    ),
    "a helper called on the class": (
        THROUGH.replace("def through(a)", "def spread(a)") + "Value.spread = spread\n",
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n\n    def local_backward():\n"
        "        a.grad += Value.spread(a) * out.grad\n\n"
        "    out.local_backward = local_backward\n    return out\n",
    ),
    "a method called on a node": (
        ENGINE_CLASS + "\n    def spread(self):\n        c = Value(self.data)\n        (c * 0.5).backward()\n"
        "        return c.grad\n",
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n\n    def local_backward():\n"
        "        a.grad += a.spread() * out.grad\n\n"
        "    out.local_backward = local_backward\n    return out\n",
    ),
    "an operator": (
        ENGINE_CLASS + "\n    def __matmul__(self, other):\n        c = Value(self.data)\n"
        "        (c * other).backward()\n        return c.grad\n",
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n\n    def local_backward():\n"
        "        a.grad += (a @ 0.5) * out.grad\n\n    out.local_backward = local_backward\n    return out\n",
    ),
}


@pytest.mark.parametrize("how", sorted(HALVE_ELSEWHERE))
def test_the_engine_asked_outside_the_stored_rule_is_found(how):
    assert "engine_in_rule" in kinds("halve", [ENGINE_CLASS, *HALVE_ELSEWHERE[how]], rule="own_rules"), how


def test_a_derived_rule_from_a_factory_or_a_method_passes():
    cells = [
        ENGINE_CLASS,
        "def make_rule(a, out):\n    def rule():\n        a.grad += a.half() * out.grad\n\n    return rule\n",
        "def half(self):\n    return 0.5\nValue.half = half\n",
        "def halve(a):\n    out = Value(a.data / 2, (a,))\n"
        "    out.local_backward = make_rule(a, out)\n    return out\n",
    ]
    assert check_sources("halve", cells, rule="own_rules") == (True, [])


def test_a_derived_local_rule_passes_and_the_engine_may_backpropagate_elsewhere():
    rule = "    def local_backward():\n        a.grad += 0.5 * out.grad"
    train = "def train(x):\n    loss = halve(Value(x))\n    loss.backward()\n    return loss.grad\n"
    assert check_sources("halve", [ENGINE_CLASS, RULE_OF.format(rule=rule), train], rule="own_rules") == (
        True,
        [],
    )


ENGINE_WITH_PRODUCT = (
    ENGINE_CLASS
    + """
    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other))

        def local_backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out.local_backward = local_backward
        return out
"""
)
HALVE_BY_A_PRODUCT = (  # the rule runs the rule of a product made when the node is made: no derivation
    "def halve(a):\n    half = Value(0.5)\n    product = a * half\n    out = Value(product.data, (a,))\n\n"
    "    def local_backward():\n        product.grad = out.grad\n        {call}\n\n"
    "    out.local_backward = local_backward\n    return out\n"
)
RULE_UNDER_ANOTHER_NAME = {  # (a cell before halve's, how halve's rule runs the product's rule)
    "a property": ("Value.rule = property(lambda self: self.local_backward)\n", "product.rule()"),
    "a property of a function": (
        "def rule_of(self):\n    return self.local_backward\n\n\nValue.rule = property(rule_of)\n",
        "product.rule()",
    ),
    "a lambda": ("rule_of = lambda node: node.local_backward\n", "rule_of(product)()"),
    "a module-level alias": ("Value.rules = {}\n", "Value.rules[id(product)]()"),
    "getattr": ("", 'getattr(product, "local_" + "backward")()'),
    "a second attribute": ("", "product.step()"),
}


@pytest.mark.parametrize("how", sorted(RULE_UNDER_ANOTHER_NAME))
def test_a_rule_that_runs_another_node_s_rule_under_another_name_is_found(how):
    cell, call = RULE_UNDER_ANOTHER_NAME[how]
    engine = ENGINE_WITH_PRODUCT
    if how == "a second attribute":  # every product keeps its rule under a second name too
        engine = engine.replace(
            "out.local_backward = local_backward", "out.local_backward = out.step = local_backward"
        )
    if how == "a module-level alias":  # the rules kept in a table as they are made
        engine = engine.replace(
            "        out.local_backward = local_backward\n        return out",
            "        out.local_backward = local_backward\n        Value.rules[id(out)] = out.local_backward\n"
            "        return out",
        )
    cells = [engine, cell, HALVE_BY_A_PRODUCT.format(call=call)]
    assert {"engine_in_rule", "dynamic"} & kinds("halve", [c for c in cells if c], rule="own_rules"), how


def test_the_engine_s_backward_may_read_the_rules_and_no_property_or_setattr_may_store_them():
    """backward() runs every node's rule; a property, a ``__setattr__`` or a descriptor that stores the rule
    can hand it back under another name, and is refused in the engine's cells."""
    backward = (
        "def run(order):\n    for node in reversed(order):\n        node.local_backward()\n\n\n"
        "def backward(self):\n    self.grad += 1.0\n    run([*self.parents, self])\n\n\n"
        "Value.backward = backward\n"
    )
    stored = (
        "def get_rule(self):\n    return self.kept_rule\n\n\n"
        "def set_rule(self, rule):\n    self.kept_rule = rule if self.parents else (lambda: None)\n\n\n"
        "Value.local_backward = property(get_rule, set_rule)\n"
    )
    rule = "    def local_backward():\n        a.grad += 0.5 * out.grad"
    tried = "\n\nc = halve(Value(3.0))\nc.grad = 1.0\nc.local_backward()  # one rule tried, at the top\n"
    cells = [ENGINE_WITH_PRODUCT, backward, RULE_OF.format(rule=rule) + tried]
    assert check_sources("halve", cells, rule="own_rules") == (True, [])
    aliases = (
        stored,
        "def keep(self, name, value):\n    object.__setattr__(self, name, value)\n\n\n"
        "Value.__setattr__ = keep\n",
        "class Rule:\n    def __set__(self, node, rule):\n        node.kept = rule\n\n\n"
        "Value.local_backward = Rule()\n",
    )
    for alias in aliases:
        assert "engine_in_rule" in kinds(
            "halve", [ENGINE_WITH_PRODUCT, backward, alias, cells[-1]], rule="own_rules"
        )
    kept = tried.replace(
        "c.local_backward()  #", "rule = c.local_backward  #"
    )  # kept to be run later: a read
    cells[-1] = RULE_OF.format(rule=rule) + kept
    assert "engine_in_rule" in kinds("halve", cells, rule="own_rules")


LSE_OF = "def logsumexp(xs):\n    xs = [x if isinstance(x, Value) else Value(x) for x in xs]\n{body}"
ENGINE_LIBRARIES = {  # a library computes what the engine, written with float and math only, should
    "scipy": (
        "from scipy.special import logsumexp as lse, softmax\n",
        "    out = Value(lse([x.data for x in xs]), xs)\n\n    def local_backward():\n"
        "        for x, share in zip(xs, softmax([x.data for x in xs])):\n"
        "            x.grad += share * out.grad\n\n"
        "    out.local_backward = local_backward\n    return out\n",
    ),
    "numpy in another cell": (
        None,
        "    out = Value(np.log(np.exp([x.data for x in xs]).sum()), xs)\n    return out\n",
    ),
    "decimal": (
        "from decimal import Decimal\n",
        "    out = Value(float(sum(Decimal(x.data).exp() for x in xs).ln()), xs)\n    return out\n",
    ),
    "cmath": ("import cmath\n", "    return Value(cmath.log(sum(cmath.exp(x.data) for x in xs)).real, xs)\n"),
    "the setup's torch": (
        "",
        "    return Value(torch.logsumexp(torch.tensor([x.data for x in xs]), 0).item(), xs)\n",
    ),
}


@pytest.mark.parametrize("how", sorted(ENGINE_LIBRARIES))
def test_a_library_in_an_engine_answer_is_found(how):
    imports, body = ENGINE_LIBRARIES[how]
    cells = [ENGINE_CLASS, (imports or "") + LSE_OF.format(body=body)]
    if imports is None:
        cells.insert(1, "import numpy as np\n")
    assert "libraries" in kinds("logsumexp", cells, rule="own_engine"), how


def test_float_math_and_python_s_helpers_are_an_engine_s_own():
    honest = (
        "import math\nimport functools\nfrom collections import deque\nfrom itertools import chain\n\n\n"
        + LSE_OF.format(
            body="    top = functools.reduce(max, (x.data for x in chain(xs, deque())))\n"
            "    return Value(top + math.log(sum(math.exp(x.data - top) for x in xs)), xs)\n"
        )
    )
    assert check_sources("logsumexp", [ENGINE_CLASS, honest], rule="own_engine") == (True, [])
    order = "def topological_order(root):\n    return [*root.parents, root]\n"
    assert "libraries" in kinds("topological_order", ["import numpy\n" + order], rule="own_engine")
    assert check_sources("topological_order", [order], rule="own_engine") == (True, [])


def test_vmap_is_asked_for_and_a_loop_is_not_it():
    vmapped = """
from torch.func import grad, vmap
import torch
def per_sample(w, X, y):
    loss = lambda w, x, t: torch.nn.functional.softplus(-t * (x @ w))
    return vmap(grad(loss), in_dims=(None, 0, 0))(w, X, y)
"""
    looped = """
import torch
def per_sample(w, X, y):
    rows = []
    for x, t in zip(X, y):
        v = w.clone().requires_grad_(True)
        torch.nn.functional.softplus(-t * (x @ v)).backward()
        rows.append(v.grad)
    return torch.stack(rows)
"""
    assert check_sources("per_sample", [vmapped], rule="with_vmap") == (True, [])
    assert {"vmap", "loops"} <= kinds("per_sample", [looped], rule="with_vmap")
    decoy = looped.replace("import torch\n", "import torch\nfrom torch.func import vmap\n_ = vmap\n")
    assert "loops" in kinds("per_sample", [decoy], rule="with_vmap")


# ------------------------------------------------------- a torch.autograd.Function of one's own (unit 6)

FUNCTION = """
import torch
class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output
"""
BY_HAND_BACKWARD = "        return 2 * x * grad_output"
FUNCTION_CHEATS = {
    "autograd.grad": FUNCTION.replace(
        BY_HAND_BACKWARD,
        "        with torch.enable_grad():\n            t = x.detach().requires_grad_()\n"
        "            return torch.autograd.grad(t * t, t, grad_output)[0]",
    ),
    "backward()": FUNCTION.replace(
        BY_HAND_BACKWARD,
        "        with torch.enable_grad():\n            t = x.detach().requires_grad_()\n"
        "            (t * t).backward(grad_output)\n            return t.grad",
    ),
    "torch.func": FUNCTION.replace(
        BY_HAND_BACKWARD,
        "        from torch.func import vjp\n        return vjp(lambda t: t * t, x)[1](grad_output)[0]",
    ),
}


def test_a_function_of_ones_own_may_subclass_torch_autograd_function():
    assert check_sources("Square", [FUNCTION], rule="own_function") == (True, [])
    imported = FUNCTION.replace("class Square(torch.autograd.Function)", "class Square(Function)").replace(
        "import torch\n", "import torch\nfrom torch.autograd import Function\n"
    )
    assert check_sources("Square", [imported], rule="own_function") == (True, [])


def test_torch_autograd_function_imported_in_a_cell_of_its_own_is_the_base_class_too():
    subclass = FUNCTION.replace("class Square(torch.autograd.Function)", "class Square(Function)")
    imported = "from torch.autograd import Function\n"
    assert check_sources("Square", [imported, subclass], rule="own_function") == (True, [])
    cheat = FUNCTION_CHEATS["torch.func"].replace(
        "class Square(torch.autograd.Function)", "class Square(Function)"
    )
    assert "function_autograd" in kinds("Square", [imported, cheat], rule="own_function")


@pytest.mark.parametrize("how", sorted(FUNCTION_CHEATS))
def test_autograd_inside_a_function_is_found(how):
    assert "function_autograd" in kinds("Square", [FUNCTION_CHEATS[how]], rule="own_function"), how


def test_a_function_is_judged_with_the_cells_it_calls_not_every_cell_importing_torch():
    """A torch.autograd.Function is a pair of functions, not an engine: a scratch cell that imports torch and
    uses autograd is not part of it; a helper it calls, in a cell of its own, is."""
    scratch = "import torch\nt = torch.ones(2, requires_grad=True)\n(t * t).sum().backward()\n"
    assert check_sources("Square", [scratch, FUNCTION], rule="own_function") == (True, [])
    helper = (
        "import torch\ndef double(x):\n    t = x.detach().requires_grad_()\n    return torch.autograd.grad\n"
    )
    calls = FUNCTION.replace("return 2 * x * grad_output", "return double(x) * grad_output")
    assert "function_autograd" in kinds("Square", [helper, calls], rule="own_function")


def test_a_parameter_named_like_another_cells_method_pulls_nothing_in():
    """Unit 6's check_backward(forward, backward, X): its parameters are named like the methods of the
    notebook's Function, whose cell (torch.autograd in it) is no helper of the check. A module-level function
    of that name still is."""
    check = "def check(forward, backward, x):\n    return forward(x) == backward(x, 1.0)\n"
    assert check_sources("check", [FUNCTION_CHEATS["autograd.grad"], check], rule="own_check") == (True, [])
    helper = "import torch\ndef forward(x):\n    return torch.autograd.grad\n"
    assert "autograd" in kinds("check", [helper, check], rule="own_check")


# unit 6's check of a layer's backward, answered by the name of the function the test hands it: each reads
# the names of the functions a call ran, from its frames. In the student's kernel those are the test's own
# functions (in the grader they run on the other side of the sandbox's wall): the visible test is fooled
BY_NAME = {
    "a traceback's frames": """
def check(forward, backward, X):
    try:
        backward(None, None)
    except Exception as error:
        names, frame = [], error.__traceback__
        while frame is not None:
            names.append(frame.tb_frame.f_code.co_name)
            frame = frame.tb_next
        return not any("_backward_" in name for name in names)
    return False
""",
    "sys.exc_info": """
import sys
def check(forward, backward, X):
    try:
        backward(None, None)
    except Exception:
        return "_backward_" not in str(sys.exc_info()[2].tb_next.tb_frame)
    return False
""",
    "the traceback module": """
import traceback
def check(forward, backward, X):
    try:
        backward(None, None)
    except Exception:
        return "_backward_" not in traceback.format_exc()
    return False
""",
    "a profiler": """
import sys
def check(forward, backward, X):
    names = []
    sys.setprofile(lambda frame, event, arg: names.append(frame.f_code.co_name))
    try:
        backward(X, forward(X))
    finally:
        sys.setprofile(None)
    return not any("_backward_" in name for name in names)
""",
}


@pytest.mark.parametrize("how", sorted(BY_NAME))
def test_a_check_that_reads_the_names_of_the_functions_it_runs_is_refused(how):
    assert "dynamic" in kinds("check", [BY_NAME[how]], rule="own_check"), how


# -------------------------------------------------------------------- a softmax of one's own

OWN_SOFTMAX = """
import torch
def log_softmax_of(Z):
    m = Z.max(dim=1, keepdim=True).values
    return Z - m - torch.log(torch.exp(Z - m).sum(dim=1, keepdim=True))
"""

# a library's stable log-softmax however it is reached: each returns log_softmax(Z, dim=1) at any logits
READY_LOG_SOFTMAX = {
    "log_softmax": "import torch\ndef log_softmax_of(Z):\n    return torch.log_softmax(Z, dim=1)\n",
    "logcumsumexp": "import torch\ndef log_softmax_of(Z):\n    return Z - torch.logcumsumexp(Z, 1)[:, -1:]\n",
    "cross_entropy, a full row of targets": """
import torch
import torch.nn.functional as F
def log_softmax_of(Z):
    N, C = Z.shape
    rows = Z.repeat_interleave(C, dim=0)
    return -F.cross_entropy(rows, torch.arange(C).repeat(N), reduction="none").reshape(N, C)
""",
    "CrossEntropyLoss": """
import torch
def log_softmax_of(Z):
    N, C = Z.shape
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    return -loss(Z.repeat_interleave(C, dim=0), torch.arange(C).repeat(N)).reshape(N, C)
""",
    "logaddexp folded over a row": """
import functools
import torch
def log_softmax_of(Z):
    return Z - functools.reduce(torch.logaddexp, Z.unbind(dim=1)).unsqueeze(1)
""",
    "a Categorical's logits": """
from torch.distributions import Categorical
def log_softmax_of(Z):
    return Categorical(logits=Z).logits
""",
    "a Multinomial's logits": "import torch\ndef log_softmax_of(Z):\n"
    "    return torch.distributions.Multinomial(logits=Z).logits\n",
    "a RelaxedOneHotCategorical's logits": """
import torch
from torch.distributions import RelaxedOneHotCategorical
def log_softmax_of(Z):
    return RelaxedOneHotCategorical(torch.tensor(1.0, dtype=Z.dtype), logits=Z).logits
""",
    "an ExpRelaxedCategorical's logits": """
import torch
import torch.distributions.relaxed_categorical as relaxed
def log_softmax_of(Z):
    return relaxed.ExpRelaxedCategorical(torch.tensor(1.0, dtype=Z.dtype), logits=Z).logits
""",
    "a distribution from a module of torch.distributions": """
import torch
from torch.distributions.categorical import Categorical as Cat
def log_softmax_of(Z):
    return Cat(logits=Z).logits
""",
    "torch.ops.aten._log_softmax": "import torch\ndef log_softmax_of(Z):\n"
    "    return torch.ops.aten._log_softmax(Z, 1, False)\n",
    "torch.special.log_softmax": "import torch\ndef log_softmax_of(Z):\n"
    "    return torch.special.log_softmax(Z, 1)\n",
    "torch._C._special.special_logsumexp": "import torch\ndef log_softmax_of(Z):\n"
    "    return Z - torch._C._special.special_logsumexp(Z, [1], True)\n",
    "from torch.nn.functional import log_softmax as lsm": """
from torch.nn.functional import log_softmax as lsm
def log_softmax_of(Z):
    return lsm(Z, 1)
""",
}
# relatives that do not make the log-softmax on their own, refused all the same: the exercise names them
READY_RELATIVES = {
    "nll_loss": "import torch.nn.functional as F\ndef log_softmax_of(Z):\n"
    "    return F.nll_loss(Z, Z.argmax(1))\n",
    "gumbel_softmax": "import torch.nn.functional as F\ndef log_softmax_of(Z):\n"
    "    return F.gumbel_softmax(Z)\n",
    "logits_to_probs": """
import torch
from torch.distributions.utils import logits_to_probs
def log_softmax_of(Z):
    return torch.log(logits_to_probs(Z))
""",
    "probs_to_logits": """
import torch
import torch.distributions.utils as U
def log_softmax_of(Z):
    return U.probs_to_logits(torch.exp(Z - Z.max(dim=1, keepdim=True).values))
""",
    "any of torch.distributions": """
import torch
def log_softmax_of(Z):
    return torch.distributions.Normal(Z, 1.0).log_prob(Z)
""",
    "scaled_dot_product_attention": """
import torch
import torch.nn.functional as F
def log_softmax_of(Z):
    N, C = Z.shape
    query, keys = torch.ones(N, 1, 1, dtype=Z.dtype), Z.unsqueeze(-1)
    values = torch.eye(C, dtype=Z.dtype).expand(N, C, C)
    return torch.log(F.scaled_dot_product_attention(query, keys, values, scale=1.0)[:, 0])
""",
    "MultiheadAttention": """
import torch
def log_softmax_of(Z):
    attention = torch.nn.MultiheadAttention(1, 1, bias=False, dtype=Z.dtype)
    return attention(Z.T.unsqueeze(-1), Z.T.unsqueeze(-1), Z.T.unsqueeze(-1))[1]
""",
    "multi_head_attention_forward": """
import torch.nn.functional as F
def log_softmax_of(Z):
    return F.multi_head_attention_forward
""",
}


def test_a_softmax_of_ones_own_passes():
    assert check_sources("log_softmax_of", [OWN_SOFTMAX], rule="own_softmax") == (True, [])


@pytest.mark.parametrize("how", sorted({**READY_LOG_SOFTMAX, **READY_RELATIVES}))
def test_a_library_softmax_is_found_however_it_is_reached(how):
    code = {**READY_LOG_SOFTMAX, **READY_RELATIVES}[how]
    assert "softmax" in kinds("log_softmax_of", [code], rule="own_softmax"), how


def test_a_library_softmax_imported_in_a_cell_of_its_own_is_found_where_the_answer_uses_it():
    answer = "def log_softmax_of(Z):\n    return normalised(Z, 1)\n"
    for imported in (
        "from torch.nn.functional import log_softmax as normalised\n",
        "from torch.distributions.utils import logits_to_probs as normalised\n",
    ):
        assert "softmax" in kinds("log_softmax_of", [imported, answer], rule="own_softmax"), imported
    assert check_sources("log_softmax_of", ["import torch\n", OWN_SOFTMAX], rule="own_softmax") == (True, [])


@pytest.mark.parametrize("how", sorted(READY_LOG_SOFTMAX))
def test_the_library_softmax_shortcuts_really_are_the_stable_log_softmax(how):
    """Each would pass a checker that looked only at the numbers, at logits of ±1000 too."""
    import torch

    Z = torch.tensor(
        [[1000.0, 999.0, -1000.0, 2.0], [-1000.0, -1001.0, -999.5, -1002.0]], dtype=torch.float64
    )
    namespace = {}
    exec(READY_LOG_SOFTMAX[how], namespace)
    torch.testing.assert_close(namespace["log_softmax_of"](Z), torch.log_softmax(Z, dim=1))


def test_a_library_log_sum_exp_is_found_where_ones_own_is_asked_for():
    for how in ("logcumsumexp", "logaddexp folded over a row", "torch._C._special.special_logsumexp"):
        assert "logsumexp" in kinds("log_softmax_of", [READY_LOG_SOFTMAX[how]], rule="own_logsumexp"), how
    assert check_sources("log_softmax_of", [OWN_SOFTMAX], rule="own_logsumexp") == (True, [])


def test_every_kind_has_its_message_and_every_rule_its_kinds():
    from autograder.messages import catalogue

    for kind in KINDS.values():
        for lang in ("ko", "en"):
            assert {"{name}", "{found}"} <= set(
                part for part in ("{name}", "{found}") if part in catalogue()[kind.message][lang]
            ), kind.message
    assert all(set(kinds_of) <= set(KINDS) for kinds_of in RULES.values())
    from autograder.rules import RULE_MESSAGES

    for rule, messages in RULE_MESSAGES.items():  # a rule's own words for a kind it refuses
        assert set(messages) <= set(RULES[rule]), rule
        for key in messages.values():
            assert all(
                {"{name}", "{found}"} <= {p for p in ("{name}", "{found}") if p in catalogue()[key][lang]}
                for lang in ("ko", "en")
            ), key


def test_the_instructors_cells_count_against_no_one_even_without_their_metadata(tmp_path):
    """Copies of the setup and of a test cell that lost their nbgrader metadata run as the student's cells,
    but their code is the instructor's: the rules never read it as the student's answer."""
    limits = Limits(cell_seconds=60, notebook_seconds=120)
    setup = "import math\nfrom autograder import assert_by_hand, assert_value"
    test = "assert_by_hand(Value)\nimport math\nassert_value(Value(3.0).grad_square(), 6.0)\n"
    hidden = "### BEGIN HIDDEN TESTS\nname = getattr(math, 'pi')\n### END HIDDEN TESTS\n"
    answer = (  # an engine of one's own: judged with every cell binding the names it uses
        "class Value:\n    def __init__(self, data):\n        self.data = data\n"
        "    def grad_square(self):\n        return 2 * self.data * math.cos(0.0)\n"
    )
    nb = nbcells.notebook(
        nbcells.setup(setup),
        nbformat.v4.new_code_cell(setup),  # the setup again, its metadata gone
        nbcells.answer(answer),
        nbformat.v4.new_code_cell(split_hidden(test + hidden)[0]),  # the test as released, metadata gone
        nbcells.test(test + hidden, points=1),
    )
    result = run_notebook(nb, lambda: Session(tmp_path, limits=limits, sandbox=False))
    assert result[0].passed, result[0].messages
    # the student's own cell binding math, with the package imported, is still the student's
    own = nbcells.notebook(
        nbcells.setup(setup),
        nbcells.answer(answer),
        nbformat.v4.new_code_cell("import math\nfrom autograder.checker import reference_gradient"),
        nbcells.test(test + hidden, points=1),
    )
    result = run_notebook(own, lambda: Session(tmp_path, limits=limits, sandbox=False))
    assert not result[0].passed and "autograder" in "\n".join(result[0].messages)
