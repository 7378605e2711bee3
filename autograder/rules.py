"""The rules an exercise states, checked in the code of its answer: one engine, one table.

A test cell calls ``assert_rules(the_function, "by_hand")`` (or its short forms ``assert_by_hand``,
``assert_without_jacobian``, ``assert_predicts``). Where the decision counts, in ``course grade``, the
grader makes the same call itself (:meth:`autograder.grading.judge.Judge.assert_rules`) on the code the
student submitted, read from the notebook's cells outside the student's process: a tampered kernel
changes nothing. In the student's own kernel the same function reads the answer's source with
``inspect`` and warns at once; that copy can be fooled, and does not decide the grade.

Both call :func:`enforce` with the answer's cells. The cells searched are the one defining the answer and,
transitively, the cells defining the student's own helpers it uses. A class is an engine of one's own
(unit 5's ``Value``): the whole class is the answer, with the cells that add to it and what they use.

A rule is a list of *kinds* of findings (``RULES``); a kind is a function that finds them in the answer's
code, and the message that names them (``KINDS``). Adding a rule is one entry in ``RULES``; adding a kind
is a function and one entry in ``KINDS``.

How numerical differentiation is recognised (the ``numeric`` kind): a derivative taken from evaluations at
perturbed inputs is a difference divided by a *step*, and a derivation never divides by one. A step is a
value built only from small constants (at most ``SMALL`` in size, however written: ``1e-6``, ``10**-6``,
``float("1e-6")``, ``2**-20``, ``math.exp(-14)``), machine epsilons (``finfo(...).eps``, ``ulp``,
``nextafter``, ``spacing``, ``sys.float_info.epsilon``) and names bound to steps (assignments, defaults of
parameters, arguments passed to one's own helpers, loop variables), through products, quotients, powers and
``abs``/``sqrt``/``float``/``tensor``; ``x / 1e6`` is a step too, and so is the difference of two inputs a
step apart (``(x + h) - (x - h)``, ``xs[1] - xs[0]``, ``np.diff(xs)``). Found: a division by a step (``/``,
``/=``, ``div``, ``divide``), a step to a negative power or its reciprocal however written
(``pow(2 * h, -1)``, ``torch.reciprocal``, ``.pow(-1)``), a difference quotient written as a product with a
reciprocal (``(f(x + h) - f(x - h)) * pow(2 * h, -1)``, whatever ``h`` holds), a product with a huge constant
(``* 5e5``, that is ``/ 2e-6``), a complex step (``.imag`` with an imaginary number), and the numerical
differentiators of numpy, scipy, torch, numdifftools and findiff. A stability epsilon (``log(x + 1e-12)``,
``1 / (d + 1e-12)``, ``max(x, 1e-12)``) is added to something that is not small, and is never a divisor
on its own, so it is not a step. What this cannot see: a step hidden in data it cannot evaluate (read from a
file, parsed from a string built at run time), and extrapolation from steps larger than ``SMALL``.
"""

from __future__ import annotations

import ast
import functools
import math
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import recording

# ----------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    what: str  # the construct, as code
    line: int

    def __str__(self) -> str:
        return f"{self.what} (line {self.line})"


@dataclass
class Answer:
    """The code an answer is judged on, and what the judging needs to know about its surroundings."""

    trees: list[ast.AST]  # the answer's cells and its helpers' cells, parsed
    every: list[ast.AST]  # every cell of the student's, parsed (steps and perturbations cross cells)
    engine: bool  # the answer is (or uses) an engine of one's own: its .grad and .backward are its own
    instructor: frozenset[str] = frozenset()  # names the tests and the course's package put beside it
    torch_globals: frozenset[str] = frozenset()  # in the kernel: names beside it whose values are torch's
    live: bool = False  # in the kernel: ``instructor`` and ``torch_globals`` are what the names hold now
    name: str = ""  # the answer's name: the function (or class) the rule is asked for
    steps: set[str] = field(default_factory=set)
    perturbed: set[str] = field(default_factory=set)


def _line(node: ast.AST) -> int:
    return getattr(node, "lineno", 0)


def _code(node: ast.AST, width: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= width else text[: width - 1] + "…"


_WALKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _nodes(node: ast.AST) -> tuple[ast.AST, ...]:
    """``ast.walk(node)``, walked once per node and kept while the tree lives: the kinds of findings each
    walk the same trees (a fifth of a unit's grading went to ``ast.walk`` before)."""
    found = _WALKS.get(node)
    if found is None:
        found = _WALKS[node] = tuple(ast.walk(node))
    return found


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names and attributes, None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _imports(tree: ast.AST):
    """(module or name imported, node) for every import in ``tree``."""
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            yield module, node
            for alias in node.names:
                yield f"{module}.{alias.name}", node


def _walk(answer: Answer):
    for tree in answer.trees:
        yield from _nodes(tree)


# ------------------------------------------------------------------------------- kinds of findings

AUTOGRAD_ATTRS = {"backward", "autograd", "func", "grad", "jacobian", "hessian", "vjp", "jvp", "jacrev"}
AUTOGRAD_ATTRS |= {"jacfwd", "grad_fn", "linearize"}
# torch.func's transforms and their helpers under the names of torch._functorch, where they are defined
AUTOGRAD_ATTRS |= {"grad_and_value", "grad_impl", "grad_and_value_impl"}
AUTOGRAD_ATTRS |= {"_autograd_grad", "_vjp_with_argnums"}  # torch.autograd.grad and vjp, wrapped
AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch")
DIFFERENTIATING_PACKAGES = {"functorch", "jax", "autograd", "tensorflow", "mxnet", "sympy", "theano"}
ENGINE_ALLOWED = {"grad", "backward"}  # an engine of one's own defines these itself
TENSOR_AUTOGRAD = {"requires_grad", "requires_grad_", "retain_grad"}


TORCH_KERNELS = {"aten", "_C", "_VF", "ops"}  # torch's own kernels, backward formulas among them
KERNEL_SUFFIXES = ("_backward", "_backward_data")  # aten._log_softmax_backward_data, aten.tanh_backward
KERNEL_INFIX = "_backward_"  # torch.batch_norm_backward_reduce, torch.mkldnn_linear_backward_weights
NOT_KERNELS = {"save_for_backward"}  # ctx's: what a Function of one's own keeps its tensors with
HOOKS = ("_hook", "_hooks")  # register_full_backward_hook: no gradient comes from a hook


def _kernel_name(name: str) -> bool:
    """The name of one of torch's backward formulas, however it is reached: ``_log_softmax_backward_data``,
    ``tanh_backward``, ``batch_norm_backward_reduce``."""
    if name in NOT_KERNELS or name.endswith(HOOKS):
        return False
    return name.endswith(KERNEL_SUFFIXES) or KERNEL_INFIX in name


def _kernel(attr: str) -> bool:
    return attr in TORCH_KERNELS or _kernel_name(attr)


def _own_names(trees: list[ast.AST]) -> set[str]:
    """The names the student's cells bind, as attributes too: an engine's ``out.local_backward = …`` or its
    ``_backward`` method is its own, not torch's."""
    names = set()
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
                names.add(node.attr)
    return names


def _private(part: str) -> bool:
    """``_functorch``, ``_decomp``, ``_log_softmax_backward_data``: a private name, not a dunder."""
    return part.startswith("_") and not part.startswith("__")


def torch_modules(trees: list[ast.AST]) -> set[str]:
    """Names the student's cells bind to torch or to one of its modules or objects by importing them
    (``import torch as T``, ``from torch import nn``) and, to a fixed point, by a chain of names and
    attributes from one (``T = torch``, ``apis = T._functorch.apis``). Narrower than :func:`torch_aliases`:
    a tensor made by torch (``t = torch.ones(2)``) is none of them, and its private attributes
    (``t._version``) are its own."""
    modules = set(TORCH_TOPS)
    chains = []
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in TORCH_TOPS:
                        modules.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in TORCH_TOPS:
                modules |= {alias.asname or alias.name for alias in node.names}
        chains += [(name, _dotted(value)) for name, value in _bindings(tree) if _dotted(value)]
    while True:
        before = len(modules)
        modules |= {name for name, chain in chains if chain.split(".")[0] in modules}
        if len(modules) == before:
            return modules


def _autograd_import(name: str, engine: bool) -> bool:
    """Whether importing ``name`` (a module, or ``module.object``) is importing automatic differentiation."""
    parts = name.split(".")
    top, last = parts[0], parts[-1]
    if name.startswith(AUTOGRAD_MODULES) or top in DIFFERENTIATING_PACKAGES:
        return True
    if engine and top == "torch":
        return True
    if name in ("torch.autograd", "torch.func") or last in AUTOGRAD_ATTRS:  # from torch.func import vjp
        return True
    if top in TORCH_TOPS and (TORCH_KERNELS & set(parts[1:]) or any(map(_private, parts[1:]))):
        return True  # from torch.ops import aten; from torch._functorch.apis import grad_and_value
    return _kernel_name(last)  # from torch import _log_softmax_backward_data


def _imported_elsewhere(answer: Answer, refused: Callable[[str], bool]) -> list[Finding]:
    """The names the answer uses that another of the student's cells binds by a refused import
    (``from torch.func import grad`` in a cell of its own, ``grad(f)(x)`` in the answer); a name the answer
    binds itself (a parameter, a local, a function of that name) is its own."""
    mine = {id(tree) for tree in answer.trees}
    imported: dict[str, str] = {}
    for tree in answer.every:
        if id(tree) in mine:
            continue  # the answer's own imports are found as imports
        for node in _nodes(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
                for alias in node.names:
                    full = f"{module}.{alias.name}" if module else alias.name
                    bound = alias.asname or (alias.name if module else alias.name.split(".")[0])
                    if refused(full):
                        imported[bound] = full
    own = _own_names(answer.trees)
    return [
        Finding(f"{node.id} (import {imported[node.id]})", _line(node))
        for node in _walk(answer)
        if isinstance(node, ast.Name) and node.id in imported and node.id not in own
    ]


def _root(node: ast.AST) -> str | None:
    """The name an attribute chain starts from: ``torch`` for ``torch.ops.aten.tanh_backward``."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def autograd(answer: Answer) -> list[Finding]:
    """Automatic differentiation: torch's (``.backward``, ``torch.autograd``, ``torch.func``, ``.grad``
    read, torch's private modules, where ``torch._functorch`` holds torch.func's transforms under other names
    and ``torch._decomp`` the backward formulas) or another library's (jax, sympy, …). In an engine of one's
    own, its ``.grad`` and ``.backward`` are its own, and torch itself is what counts."""
    found = []
    kernels = torch_aliases(answer.every)  # torch, T, tt = torch, F = T.nn.functional, …
    modules = torch_modules(answer.every)  # torch, T, F, apis = T._functorch.apis: not a tensor made by torch
    own = _own_names(answer.every) | set(answer.instructor)
    for node in _walk(answer):
        if isinstance(node, ast.Attribute):
            if answer.engine and node.attr in ENGINE_ALLOWED:
                continue
            if node.attr == "grad" and not isinstance(node.ctx, ast.Load):
                continue
            if node.attr in AUTOGRAD_ATTRS or (answer.engine and node.attr in TENSOR_AUTOGRAD):
                found.append(Finding(f".{node.attr}", _line(node)))
            elif _kernel(node.attr) and _root(node) in kernels:
                found.append(Finding(f".{node.attr}", _line(node)))  # T.ops.aten.sigmoid_backward, tt._…
            elif _kernel_name(node.attr) and node.attr not in own:
                found.append(Finding(f".{node.attr}", _line(node)))  # torch passed in: lib._…_backward_data
            elif _private(node.attr) and (_dotted(node.value) or "").split(".")[0] in modules:
                found.append(Finding(_dotted(node) or f".{node.attr}", _line(node)))  # torch._functorch.apis
        elif isinstance(node, ast.Name) and _kernel_name(node.id) and node.id not in own:
            found.append(Finding(node.id, _line(node)))  # from torch import *: batch_norm_backward_elemt
        elif answer.engine and isinstance(node, ast.Name) and node.id == "torch":
            found.append(Finding("torch", _line(node)))
        elif answer.engine and isinstance(node, ast.keyword) and node.arg in TENSOR_AUTOGRAD:
            found.append(Finding(f"{node.arg}=", _line(node)))
    for tree in answer.trees:
        for name, node in _imports(tree):
            if _autograd_import(name, answer.engine):
                found.append(Finding(f"import {name}", _line(node)))
    return found + _imported_elsewhere(answer, lambda name: _autograd_import(name, answer.engine))


FUNCTION_BASE = "Function"  # torch.autograd.Function, the class a Function of one's own subclasses
FUNCTION_MODULES = ("torch.autograd", "torch.autograd.function")


def _function_base(answer: Answer) -> set[tuple[str, int]]:
    """What ``autograd`` finds in naming ``torch.autograd.Function`` as a base class, or in importing it
    (``from torch.autograd import Function``): (what, line) of each such finding."""
    allowed = set()
    for tree in answer.trees:
        for node in _nodes(tree):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    allowed |= {
                        (f".{n.attr}", _line(n)) for n in _nodes(base) if isinstance(n, ast.Attribute)
                    }
                    allowed |= {  # Function imported in a cell of its own
                        (f"{n.id} (import {module}.{FUNCTION_BASE})", _line(n))
                        for n in _nodes(base)
                        if isinstance(n, ast.Name)
                        for module in FUNCTION_MODULES
                    }
            elif isinstance(node, ast.ImportFrom) and node.module in FUNCTION_MODULES:
                if all(alias.name == FUNCTION_BASE for alias in node.names):
                    module = ast.Module(body=[node], type_ignores=[])
                    allowed |= {(f"import {name}", _line(node)) for name, _ in _imports(module)}
    return allowed


def function_autograd(answer: Answer) -> list[Finding]:
    """Automatic differentiation inside a ``torch.autograd.Function`` of one's own, whose ``backward`` is the
    derivation: whatever ``autograd`` finds (``torch.autograd.grad``, ``.backward()``, ``torch.func``, a
    ``.grad`` read, …), except the base class ``torch.autograd.Function`` itself and its import, which are
    what the exercise asks for. The Function's own ``forward``/``backward`` are definitions, not calls."""
    allowed = _function_base(answer)
    found = autograd(replace(answer, engine=False))
    return [finding for finding in found if (finding.what, finding.line) not in allowed]


DYNAMIC_NAMES = {"exec", "eval", "compile", "__import__", "globals", "vars", "locals", "getattr", "setattr"}
DYNAMIC_NAMES |= {"importlib", "__builtins__", "builtins", "breakpoint"}
# what turns a string into a module or one of its objects: pkgutil.resolve_name("torch.optim:SGD"),
# pydoc.locate, runpy, pickle's loads (a pickle names any importable object), operator's getters
DYNAMIC_NAMES |= {"pkgutil", "runpy", "pydoc", "pickle", "marshal", "copyreg", "attrgetter", "methodcaller"}
DYNAMIC_ATTRS = {"__dict__", "__builtins__", "modules", "__getattribute__", "__globals__", "import_module"}
DYNAMIC_ATTRS |= {"resolve_name", "locate", "run_module", "run_path", "attrgetter", "methodcaller"}
DYNAMIC_ATTRS |= {"__closure__", "cell_contents", "__code__", "__wrapped__"}  # another function's insides
# from any object to every class loaded (torch's among them): object.__subclasses__(), a class's bases and
# order, a module's loader and spec, the import system's finders
DYNAMIC_ATTRS |= {"__subclasses__", "__base__", "__bases__", "__mro__", "mro", "__class__"}
DYNAMIC_ATTRS |= {"__loader__", "__spec__", "meta_path"}
# the notebook's own namespace, where the tests' helpers live: __main__, IPython's user_ns, a frame's globals
DYNAMIC_NAMES |= {"get_ipython", "__main__"}
DYNAMIC_ATTRS |= {"user_ns", "user_global_ns", "f_globals", "f_locals", "f_back", "_getframe"}
# the frames of a call, where the names of the functions it ran are read: a traceback, a tracer, a profiler
DYNAMIC_ATTRS |= {"__traceback__", "tb_frame", "tb_next", "f_code", "co_name", "co_qualname", "exc_info"}
DYNAMIC_ATTRS |= {"last_traceback", "last_exc", "settrace", "setprofile", "_current_frames", "monitoring"}
DYNAMIC_MODULES = ("importlib", "builtins", "ctypes", "inspect", "gc", "pkgutil", "runpy", "pydoc", "pickle")
DYNAMIC_MODULES += ("marshal", "copyreg", "operator", "__main__")
DYNAMIC_MODULES += ("traceback", "faulthandler", "cProfile", "profile", "pstats", "trace")
# a string that names a module's object, to be looked up while the answer runs: "torch.optim:SGD",
# "autograder.checker.reference_gradient" (a docstring is prose, not a name)
MODULE_PATH = re.compile(r"\b(torch|functorch|autograder)\s*[.:]\s*[A-Za-z_]")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants of a module, its classes and its functions."""
    found = set()
    for node in _nodes(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def dynamic(answer: Answer) -> list[Finding]:
    """Code that cannot be checked by reading it: a derivation by hand needs none of it."""
    found = []
    for node in _walk(answer):
        if isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            found.append(Finding(node.id, _line(node)))
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRS:
            found.append(Finding(f".{node.attr}", _line(node)))
    for tree in answer.trees:
        prose = _docstrings(tree)
        for node in _nodes(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, (str, bytes))
                and id(node) not in prose
            ):
                text = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
                if MODULE_PATH.search(text):
                    found.append(Finding(_code(node), _line(node)))
        for name, node in _imports(tree):
            if name.split(".")[0] in DYNAMIC_MODULES:
                found.append(Finding(f"import {name}", _line(node)))
    return found


PACKAGE = "autograder"


def package(answer: Answer) -> list[Finding]:
    """Anything from the course's own package, and the tests' own names: an answer key either way."""
    found = []
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.split(".")[0] == PACKAGE:
                found.append(Finding(f"import {name}", _line(node)))
    for node in foreign_uses(answer, set(answer.instructor), (PACKAGE,)):  # the tests' names, by scope
        found.append(Finding(node.id, _line(node)))
    for node in _walk(answer):
        if isinstance(node, ast.Name) and node.id == PACKAGE:
            found.append(Finding(PACKAGE, _line(node)))
    return found


JACOBIAN_PREFIXES = ("torch.autograd.functional", "autograd.functional", "torch.func", "functorch")
JACOBIAN_PREFIXES += ("torch.autograd.forward_ad", "autograd.forward_ad")  # forward mode: a column per call
JACOBIAN_ATTRS = {"jacobian", "hessian", "jacrev", "jacfwd", "vmap", "hvp", "vhp", "jvp"}
JACOBIAN_ATTRS |= {"forward_ad", "make_dual", "unpack_dual", "dual_level"}  # not one VJP per output entry


BATCHED = "is_grads_batched"  # torch.autograd.grad's 8th parameter: every grad_outputs row at once, by vmap


def _batched_grad(node: ast.AST) -> bool:
    """``grad(..., is_grads_batched=<not False>)``, the flag passed by position (8th), or its name as a
    string (``**{"is_grads_batched": True}``)."""
    if isinstance(node, ast.keyword):
        off = isinstance(node.value, ast.Constant) and node.value.value in (False, None, 0)
        return node.arg == BATCHED and not off
    if isinstance(node, ast.Constant):
        return node.value == BATCHED
    if isinstance(node, ast.Call) and len(node.args) >= 8:
        return getattr(node.func, "attr", getattr(node.func, "id", None)) == "grad"
    return False


def jacobian(answer: Answer) -> list[Finding]:
    """A ready-made Jacobian or Hessian (``torch.autograd.functional``, ``torch.func``, ``vmap``), all
    its rows from one ``torch.autograd.grad(..., is_grads_batched=True)`` (a vmap inside), or its columns
    from forward mode (``torch.autograd.forward_ad``: dual numbers, not one VJP per output entry)."""
    found = []
    for node in _walk(answer):
        if _batched_grad(node):
            found.append(Finding(BATCHED, _line(node)))
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node) or ""
            if node.attr in JACOBIAN_ATTRS or dotted.startswith(JACOBIAN_PREFIXES):
                found.append(Finding(dotted or f".{node.attr}", _line(node)))
        elif isinstance(node, ast.Name) and node.id in JACOBIAN_ATTRS:
            found.append(Finding(node.id, _line(node)))
    for tree in answer.trees:
        for name, node in _imports(tree):
            last = name.rsplit(".", 1)[-1]
            if name.startswith(JACOBIAN_PREFIXES) or last in JACOBIAN_ATTRS or last == "func":
                found.append(Finding(f"import {name}", _line(node)))
    return found


TORCH_TOPS = ("torch", "functorch")


def torch_aliases(trees: list[ast.AST]) -> set[str]:
    """Names the student's cells bind to torch, whichever cell binds them: ``import torch as T``,
    ``from torch import optim``, and, to a fixed point, any assignment whose value mentions torch or such a
    name (``T = torch``, ``F = T.nn.functional``, ``opt = torch.optim.SGD([w])``, ``run = lambda: T.…``).
    The answer's cells are only its own and its helpers' functions: without this, ``T = torch`` in a cell
    of its own would hand the answer torch unseen. Every such name is suspect here, wherever it is bound
    (torch's kernels reached through it); where a name's scope decides, :func:`foreign_uses` does."""
    aliases = set(TORCH_TOPS)
    bindings = []
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
                for alias in node.names:
                    if (module or alias.name).split(".")[0] in TORCH_TOPS:
                        aliases.add((alias.asname or alias.name).split(".")[0])
        bindings += list(_bindings(tree))
    while True:
        before = len(aliases)
        for name, value in bindings:
            if any(isinstance(n, ast.Name) and n.id in aliases for n in _nodes(value)):
                aliases.add(name)
        if len(aliases) == before:
            return aliases


def _records_backward(node: ast.AST) -> bool:
    """``create_graph=<not False>``: the backward pass recorded as a graph, to be differentiated again."""
    off = isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant) and not node.value.value
    return isinstance(node, ast.keyword) and node.arg == "create_graph" and not off


DIFFERENTIATE = {"grad", "backward"}  # the calls that differentiate: torch.autograd.grad, tensor.backward


def _differentiates(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (_callee(node) or "") in DIFFERENTIATE


def _recorded_fed_on(answer: Answer) -> bool:
    """Whether a gradient recorded with ``create_graph`` is differentiated again: what a recording call
    returns (and, after ``.backward(create_graph=True)``, every ``.grad`` read) is followed through
    assignments and through the functions that return it, to a fixed point, into the arguments of another
    ``grad`` or the tensor of another ``.backward``. A recording whose result goes nowhere is a decoy: the
    answer came another way (a formula typed in). What this cannot see: a recorded gradient added to a
    formula with weight 0."""
    recorders = [
        n for n in _walk(answer) if isinstance(n, ast.Call) and any(map(_records_backward, n.keywords))
    ]
    reads_grad = any(_callee(n) == "backward" for n in recorders)
    names: set[str] = set()
    bindings = [pair for tree in answer.trees for pair in _bindings(tree)]
    functions = [n for n in _walk(answer) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def carries(expression: ast.AST) -> bool:
        for node in _nodes(expression):
            if node in recorders or (isinstance(node, ast.Name) and node.id in names):
                return True
            if reads_grad and isinstance(node, ast.Attribute) and node.attr == "grad":
                return True
        return False

    while True:
        before = len(names)
        names |= {name for name, value in bindings if carries(value)}
        for function in functions:
            returns = [n.value for n in _nodes(function) if isinstance(n, ast.Return) and n.value is not None]
            if any(carries(value) for value in returns):
                names.add(function.name)
        if len(names) == before:
            break
    for node in _walk(answer):
        if not _differentiates(node):
            continue
        receiver = (
            [node.func.value] if _callee(node) == "backward" and isinstance(node.func, ast.Attribute) else []
        )
        fed = [*node.args, *(k.value for k in node.keywords), *receiver]
        if any(carries(expression) for expression in fed):
            return True
    return False


def without_create_graph(answer: Answer) -> list[Finding]:
    """The exercise asks for a gradient taken with ``create_graph=True`` and differentiated again (double
    backpropagation): a ready-made transform (``torch.func``, ``torch.autograd.functional``, ``vmap``), an
    answer that never records a backward pass (a formula typed in, or ``retain_graph`` alone), or one whose
    recorded gradient is never differentiated again (a decoy call beside a formula)."""
    found = jacobian(answer)
    if not any(_records_backward(node) for node in _walk(answer)):
        found.append(Finding("create_graph=True", 0))
    elif not _recorded_fed_on(answer):
        found.append(Finding("create_graph=True, never differentiated again", 0))
    return found


def torch_itself(answer: Answer) -> list[Finding]:
    """The library whose behaviour a predict exercise asks about: running it is not predicting it, however
    it is reached (torch itself, or a name another cell, or the kernel's globals, bind to torch: any name a
    student's cell binds to torch, or to a value made from it, ``T = torch``, ``F = T.nn.functional``,
    ``opt = torch.optim.SGD([w])``, ``run = lambda: T.ones(1)``, is torch wherever that binding is the one in
    scope)."""
    bound_elsewhere = foreign_uses(answer, set(TORCH_TOPS) | set(answer.torch_globals), TORCH_TOPS)
    found = [Finding(n.id, _line(n)) for n in bound_elsewhere]  # T = torch in any cell, followed by scope
    found += [Finding(n.id, _line(n)) for n in _walk(answer) if isinstance(n, ast.Name) and n.id == "torch"]
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.split(".")[0] in ("torch", "functorch"):
                found.append(Finding(f"import {name}", _line(node)))
    return found


def _lambda_names(answer: Answer) -> dict[int, str]:
    """The names lambdas are bound to (``go = lambda x, n: … go(…) …``), by the lambda's id."""
    named = {}
    for name, value in (pair for tree in answer.trees for pair in _bindings(tree)):
        if isinstance(value, ast.Lambda):
            named[id(value)] = name
    return named


def _self_applications(answer: Answer) -> list[Finding]:
    """A function handed itself as an argument (``f(f)``, ``go(go, x, n)``): recursion without a name that
    calls itself, as in a fixed-point combinator."""
    found = []
    for node in _walk(answer):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if any(isinstance(arg, ast.Name) and arg.id == node.func.id for arg in node.args):
                more = ", …" if len(node.args) > 1 or node.keywords else ""
                found.append(Finding(f"{node.func.id}({node.func.id}{more})", _line(node)))
    return found


def recursion(answer: Answer) -> list[Finding]:
    """A function that calls itself, directly or through others of the answer's (``self.visit`` in
    ``visit`` included, and a lambda bound to a name that calls that name), a function applied to itself
    (``f(f)``, a fixed-point combinator), and raising Python's recursion limit."""
    calls: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    lambdas = _lambda_names(answer)
    for node in _walk(answer):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            name = getattr(node, "name", None) or lambdas.get(id(node))
            if name is None:
                continue
            called = set()
            for inner in _nodes(node):
                if isinstance(inner, ast.Call):
                    if isinstance(inner.func, ast.Name):
                        called.add(inner.func.id)
                    elif isinstance(inner.func, ast.Attribute):
                        called.add(inner.func.attr)
            calls.setdefault(name, set()).update(called)
            lines.setdefault(name, _line(node))
    found = []
    for start in calls:
        todo, seen = list(calls[start]), set()
        while todo:
            current = todo.pop()
            if current == start:
                found.append(Finding(f"{start}() calls itself", lines[start]))
                break
            if current in seen or current not in calls:
                continue
            seen.add(current)
            todo += calls[current]
    found += _self_applications(answer)
    for node in _walk(answer):
        if isinstance(node, ast.Attribute) and node.attr == "setrecursionlimit":
            found.append(Finding("sys.setrecursionlimit", _line(node)))
        elif (
            isinstance(node, ast.Name) and node.id == "setrecursionlimit"
        ):  # from sys import setrecursionlimit
            found.append(Finding("setrecursionlimit", _line(node)))
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.rsplit(".", 1)[-1] == "setrecursionlimit":
                found.append(Finding(f"import {name}", _line(node)))
    return found


LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# what runs a function of one's own once per element, a loop without a `for`: the builtins, a pool's or an
# executor's map, numpy's Python-level element loops; functools.reduce and every helper of itertools
# (accumulate, starmap, repeat, islice, …) are found through the module, whatever they are called
LOOP_BUILTINS = {"map", "filter"}
LOOP_ATTRS = {"map", "starmap", "imap", "imap_unordered", "vectorize", "frompyfunc", "apply_along_axis"}
LOOP_ATTRS |= {"apply_over_axes"}
LOOP_MODULES = {"itertools": None, "functools": {"reduce"}}  # module → its loops (None: every helper of it)
ITERATOR_METHODS = {"__iter__", "__next__", "__getitem__"}  # a class that list() or sum() steps through
KEYED = {"min", "max", "sorted", "sort", "nlargest", "nsmallest", "groupby", "merge"}  # key= runs per element


def _loop_helpers(trees: list[ast.AST]) -> tuple[dict[str, str], set[str]]:
    """(module aliases, helper names): the names the student's cells bind to itertools or functools
    (``import itertools as it``: alias → module), and to their loops (``from functools import reduce as
    fold``, ``fold = functools.reduce``, ``go = it.accumulate``), to a fixed point, in whichever cell."""
    modules: dict[str, str] = {}
    helpers: set[str] = set()
    bindings = []
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in LOOP_MODULES:
                        modules[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module in LOOP_MODULES:
                loops_of = LOOP_MODULES[node.module]
                for alias in node.names:
                    if alias.name == "*":
                        helpers |= loops_of or set()  # every name of itertools: found as a module's below
                    elif loops_of is None or alias.name in loops_of:
                        helpers.add(alias.asname or alias.name)
        bindings += list(_bindings(tree))
    while True:
        before = len(modules) + len(helpers)
        for name, value in bindings:
            if isinstance(value, ast.Name) and value.id in modules:
                modules.setdefault(name, modules[value.id])
            elif any(_loop_reference(n, modules, helpers) for n in _nodes(value)):
                helpers.add(name)
        if len(modules) + len(helpers) == before:
            return modules, helpers


def _loop_reference(node: ast.AST, modules: dict[str, str], helpers: set[str]) -> bool:
    """Whether ``node`` names one of the loops of itertools or functools: a helper's name, or the module's
    attribute (any of itertools', functools' ``reduce``)."""
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load) and node.id in helpers
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
        loops_of = LOOP_MODULES[modules[node.value.id]]
        return loops_of is None or node.attr in loops_of
    return False


def loops(answer: Answer) -> list[Finding]:
    """A Python loop: ``for``, ``while``, a comprehension, and what runs a function once per element
    without one (``map``, ``filter``, ``functools.reduce``, ``itertools``' helpers, ``iter(f, stop)``, a
    ``key=`` of one's own, numpy's ``vectorize``, a class one steps through), where the exercise asks for
    operations on the whole batch at once, or for a closed form."""
    modules, helpers = _loop_helpers(answer.every)
    own = {n.name for t in answer.every for n in _nodes(t) if isinstance(n, ast.FunctionDef)}
    found = []
    for node in _walk(answer):
        if isinstance(node, LOOPS):
            found.append(Finding(type(node).__name__.lower().replace("comp", " comprehension"), _line(node)))
        elif _loop_reference(node, modules, helpers):
            found.append(Finding(_dotted(node) or "", _line(node)))
        elif isinstance(node, ast.Attribute) and node.attr in LOOP_ATTRS:
            found.append(Finding(_dotted(node) or f".{node.attr}", _line(node)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in LOOP_BUILTINS:
            found.append(Finding(node.func.id, _line(node)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "iter":
            if len(node.args) == 2:  # iter(f, stop) calls f until it returns stop
                found.append(Finding("iter(…, …)", _line(node)))
        elif isinstance(node, ast.Call) and _callee(node) in KEYED:
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "key" and (
                    isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in own)
                ):
                    found.append(Finding(f"{_callee(node)}(key=…)", _line(node)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ITERATOR_METHODS:
            found.append(Finding(node.name, _line(node)))
    return found


def without_vmap(answer: Answer) -> list[Finding]:
    """The exercise asks for ``vmap``: an answer that never uses it, or takes gradients another way."""
    uses = any(
        (isinstance(n, ast.Name) and n.id == "vmap") or (isinstance(n, ast.Attribute) and n.attr == "vmap")
        for n in _walk(answer)
    )
    found = [] if uses else [Finding("vmap", 0)]
    for node in _walk(answer):
        if isinstance(node, ast.Attribute) and node.attr in ("backward", "autograd"):
            found.append(Finding(f".{node.attr}", _line(node)))
    return found


# a library's softmax, and its relatives that hand back a stable log-softmax or log-sum-exp too: the
# cumulative and pairwise log-sum-exp (the last column; folded over a row), the cross-entropy (fed every class
# of a row as its target, it is minus the log-softmax) with its NLL half, the gumbel softmax, and the
# categorical distributions (they normalise their logits)
READY_SOFTMAX = {
    "softmax",
    "log_softmax",
    "logsumexp",
    "softmin",
    "LogSoftmax",
    "Softmax",
    "Softmin",
    "Softmax2d",
}
READY_SOFTMAX |= {"logcumsumexp", "logaddexp", "logaddexp2", "cross_entropy", "CrossEntropyLoss", "nll_loss"}
READY_SOFTMAX |= {"NLLLoss", "gumbel_softmax", "Categorical", "OneHotCategorical"}
# every distribution of torch's (Multinomial(logits=Z).logits is the stable log-softmax, the relaxed
# categoricals normalise theirs too), its helpers between logits and probabilities, and attention, whose
# weights are a softmax
READY_SOFTMAX |= {"distributions", "Multinomial", "RelaxedOneHotCategorical", "ExpRelaxedCategorical"}
READY_SOFTMAX |= {"logits_to_probs", "probs_to_logits", "scaled_dot_product_attention", "MultiheadAttention"}
READY_SOFTMAX |= {"multi_head_attention_forward"}
SOFTMAX_MODULES = ("torch.distributions",)
READY_LOGSUMEXP = {"logsumexp", "logcumsumexp", "logaddexp", "logaddexp2"}


def _bare(name: str) -> str:
    """A library function's name without the decorations of its other entry points: torch.ops.aten's
    leading underscores (``_log_softmax``) and torch._C's ``special_`` prefix."""
    return name.lstrip("_").removeprefix("special_")


def _library_functions(answer: Answer, names: set[str]) -> list[Finding]:
    found = [
        Finding(_dotted(n) or n.attr, _line(n))
        for n in _walk(answer)
        if isinstance(n, ast.Attribute) and _bare(n.attr) in names
    ]
    for tree in answer.trees:
        for name, node in _imports(tree):
            if _bare(name.rsplit(".", 1)[-1]) in names:
                found.append(Finding(f"import {name}", _line(node)))
    return found


def ready_softmax(answer: Answer) -> list[Finding]:
    """A library's softmax or log-sum-exp, where the exercise asks for one's own softmax: anything from
    ``torch.distributions`` among them, however it is imported, and, imported in another cell, used by
    name."""
    found = _library_functions(answer, READY_SOFTMAX)
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.startswith(SOFTMAX_MODULES) and _bare(name.rsplit(".", 1)[-1]) not in READY_SOFTMAX:
                found.append(Finding(f"import {name}", _line(node)))  # import torch.distributions.utils as U

    def refused(name: str) -> bool:
        return name.startswith(SOFTMAX_MODULES) or _bare(name.rsplit(".", 1)[-1]) in READY_SOFTMAX

    return found + _imported_elsewhere(answer, refused)


def ready_logsumexp(answer: Answer) -> list[Finding]:
    """A library's log-sum-exp, where the exercise asks for one's own (its softmax may be the library's)."""
    return _library_functions(answer, READY_LOGSUMEXP)


EIGENSOLVERS = {"eig", "eigvals", "eigh", "eigvalsh", "eigs", "eigsh", "svd", "svdvals", "roots", "polyroots"}
# a characteristic polynomial's roots by other names: sympy's eigenvalues and root finders, numpy's poly
# (it computes eigenvalues itself) and poly1d with its roots attribute ``.r``
EIGENSOLVERS |= {"eigenvals", "eigenvects", "charpoly", "nroots", "all_roots", "real_roots"}
EIGENSOLVERS |= {"poly1d", "poly", "r"}
LINALG_MODULES = ("numpy.linalg", "scipy.linalg", "scipy.sparse.linalg", "numpy.polynomial")
LINALG_MODULES += ("sympy", "mpmath")  # computer algebra and arbitrary precision: eigenvalues and roots both


def eigensolver(answer: Answer) -> list[Finding]:
    """A library's eigenvalues or polynomial roots (``numpy.linalg.eigvals``, ``scipy.linalg.eig``,
    ``numpy.roots``), where the exercise asks for the rule behind them: a step's matrix handed to a solver,
    and a bisection on what it returns, is a search, not a derivation."""
    found = _library_functions(answer, EIGENSOLVERS | {"linalg"})  # np.linalg.anything: a solver's module
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.startswith(LINALG_MODULES):
                found.append(Finding(f"import {name}", _line(node)))
    return found


def legacy_data(answer: Answer) -> list[Finding]:
    """``.data``, the old way of changing a tensor behind autograd's back."""
    return [
        Finding(".data", _line(n)) for n in _walk(answer) if isinstance(n, ast.Attribute) and n.attr == "data"
    ]


# ------------------------------------------------------------------------- numerical differentiation

SMALL = 0.1  # a constant this small (and not 0) is a step
LARGE = 1e3  # dividing by a constant this large makes a step
HUGE = 1e4  # multiplying by a constant this large undoes one
EPSILON_ATTRS = {"eps", "epsilon", "tiny", "resolution"}
EPSILON_CALLS = {"ulp", "nextafter", "spacing", "finfo", "nexttoward"}
PASS_THROUGH = {"abs", "float", "sqrt", "cbrt", "fabs", "tensor", "as_tensor", "asarray", "array", "float64"}
PASS_THROUGH |= {"float32", "double", "item", "clone", "copy", "detach", "min", "Fraction", "Decimal"}
CONSTRUCTORS = {"array", "tensor", "asarray", "as_tensor", "stack", "linspace", "list", "tuple", "clone"}
CONSTRUCTORS |= {"copy", "hstack", "vstack", "cat", "concatenate", "full_like", "repeat"}
DIVIDE = {"div", "divide", "true_divide", "truediv", "div_", "floor_divide"}
MULTIPLY = {"mul", "multiply", "mul_"}
POWER = {
    "pow",
    "power",
    "float_power",
    "pow_",
    "__pow__",
}  # pow(b, e), math.pow, np.power, torch.pow, b.pow(e)
RECIPROCAL = {"reciprocal", "reciprocal_", "rsqrt", "rsqrt_"}  # 1 / b, 1 / √b
NUMERIC_API = {"approx_fprime", "check_grad", "derivative", "Derivative", "Gradient", "Jacobian", "Hessian"}
NUMERIC_API |= {"gradient", "polyfit", "approx_derivative", "numerical_jacobian", "get_numerical_jacobian"}
NUMERIC_API |= {"get_numerical_jacobian_wrt_specific_input", "_get_numerical_jacobian", "jacobi", "findiff"}
NUMERIC_PACKAGES = ("numdifftools", "findiff", "scipy.differentiate", "scipy.misc", "scipy.optimize._numdiff")
FOLDABLE_CALLS = {
    "float": float,
    "int": int,
    "pow": pow,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "ldexp": math.ldexp,
    "fromhex": float.fromhex,
    "power": pow,
    "float64": float,
    "float32": float,
    "double": float,
    "tensor": float,
    "Fraction": lambda *a: float(a[0]) / float(a[1] if len(a) > 1 else 1),
    "Decimal": float,
}


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def fold(node: ast.AST) -> float | None:
    """The value of a constant expression (``10**-6``, ``float("1e-6")``, ``1 / (2 << 20)``), or None."""
    try:
        value = _fold(node)
    except (ArithmeticError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _fold(node: ast.AST) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _fold(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow) and abs(right) > 400:
            return None
        operations = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.FloorDiv: lambda a, b: a // b,
            ast.Pow: lambda a, b: a**b,
            ast.LShift: lambda a, b: a << b,
            ast.RShift: lambda a, b: a >> b,
        }
        operation = operations.get(type(node.op))
        strings = isinstance(left, str) + isinstance(right, str)
        if operation is None or strings == 1 or (strings == 2 and not isinstance(node.op, ast.Add)):
            return None
        return operation(left, right)
    if isinstance(node, ast.Call) and not node.keywords and node.args:
        function = FOLDABLE_CALLS.get(_callee(node) or "")
        if function is None:
            return None
        args = [_fold(arg) for arg in node.args]
        if any(arg is None for arg in args):
            return None
        return function(*args)
    return None


def _small(node: ast.AST) -> bool:
    value = fold(node)
    return value is not None and 0 < abs(value) <= SMALL


def _large(node: ast.AST, limit: float = LARGE) -> bool:
    value = fold(node)
    return value is not None and abs(value) >= limit


def is_step(node: ast.AST, answer: Answer) -> bool:
    """Whether ``node`` is a step: built only from small constants, epsilons and steps (see the notes)."""
    value = fold(node)
    if value is not None:
        return 0 < abs(value) <= SMALL
    if isinstance(node, ast.Name):
        return node.id in answer.steps
    if isinstance(node, ast.Attribute):
        return node.attr in EPSILON_ATTRS or is_step(node.value, answer)
    if isinstance(node, ast.UnaryOp):
        return is_step(node.operand, answer)
    if isinstance(node, ast.BinOp):
        left, right = node.left, node.right
        if isinstance(node.op, ast.Mult):
            return is_step(left, answer) or is_step(right, answer)
        if isinstance(node.op, (ast.Div, ast.FloorDiv)):
            return is_step(left, answer) or _large(right)
        if isinstance(node.op, ast.Pow):
            exponent = fold(right)
            if is_step(left, answer):
                return exponent is not None and exponent > 0
            negative = isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub)
            base = fold(left)
            return base is not None and abs(base) >= 2 and negative  # 10 ** -k
        if isinstance(node.op, ast.Add):
            return is_step(left, answer) and is_step(right, answer)
        if isinstance(node.op, ast.Sub):
            if is_step(left, answer) and is_step(right, answer):
                return True
            return is_perturbed(left, answer) or is_perturbed(right, answer)  # (x + h) - x
        return False
    if isinstance(node, ast.Call):
        name = _callee(node) or ""
        if name in EPSILON_CALLS:
            return True
        inner = node.args[:1] or ([node.func.value] if isinstance(node.func, ast.Attribute) else [])
        if name == "diff":
            return any(is_perturbed(arg, answer) for arg in inner)
        if name == "min":
            return any(is_step(arg, answer) for arg in node.args)
        if name in PASS_THROUGH:
            return any(is_step(arg, answer) for arg in inner)
        return False
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return bool(node.elts) and all(is_step(e, answer) for e in node.elts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        return is_step(node.elt, answer)
    if isinstance(node, ast.Subscript):
        return is_step(node.value, answer)
    if isinstance(node, ast.IfExp):
        return is_step(node.body, answer) or is_step(node.orelse, answer)
    return False


def is_perturbed(node: ast.AST, answer: Answer) -> bool:
    """Whether ``node`` is an input moved by a step (``x + h``), or holds such inputs."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        steps = is_step(node.left, answer), is_step(node.right, answer)
        if steps[0] != steps[1]:
            return True
        return is_perturbed(node.left, answer) or is_perturbed(node.right, answer)
    if isinstance(node, ast.Name):
        return node.id in answer.perturbed
    if isinstance(node, (ast.Subscript, ast.Starred)):
        return is_perturbed(node.value, answer)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(is_perturbed(e, answer) for e in node.elts)
    if isinstance(node, ast.Call) and (_callee(node) or "") in CONSTRUCTORS:
        inner = [*node.args, *([node.func.value] if isinstance(node.func, ast.Attribute) else [])]
        return any(is_perturbed(arg, answer) for arg in inner)
    return False


def _bindings(tree: ast.AST):
    """(name, value) for what ``tree`` binds: assignments, loop variables, parameters with defaults."""
    for node in _nodes(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield from _pairs(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            yield from _pairs(node.target, node.value)
        elif isinstance(node, (ast.For, ast.comprehension)):
            yield from _pairs(node.target, node.iter)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = [*node.args.posonlyargs, *node.args.args]
            for arg, default in zip(positional[::-1], node.args.defaults[::-1], strict=False):
                yield arg.arg, default
            for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                if default is not None:
                    yield arg.arg, default


def _pairs(target: ast.AST, value: ast.AST):
    if isinstance(target, ast.Name):
        yield target.id, value
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        for index, element in enumerate(target.elts):
            if values is not None and len(values) == len(target.elts):
                yield from _pairs(element, values[index])
            else:
                yield from _pairs(element, value)


def _arguments(trees: list[ast.AST]):
    """(parameter name, argument) for every call of a function the student defined."""
    params: dict[str, list[str]] = {}
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params[node.name] = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):  # D = lambda h: ...
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        params[target.id] = [a.arg for a in node.value.args.args]
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in params:
                yield from zip(params[node.func.id], node.args, strict=False)
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg:
                        yield keyword.arg, keyword.value


def _perturbations(tree: ast.AST, answer: Answer):
    """Names moved by a step in place: ``xp[i] += h``, ``xp[i] = xp[i] + h``, ``xp.add_(h)``."""
    for node in _nodes(tree):
        target = None
        if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)):
            if is_step(node.value, answer):
                target = node.target
        elif isinstance(node, ast.Assign) and is_perturbed(node.value, answer):
            target = node.targets[0]
        elif isinstance(node, ast.Call) and (_callee(node) or "") in ("add_", "sub_", "__iadd__"):
            if isinstance(node.func, ast.Attribute) and any(is_step(a, answer) for a in node.args):
                target = node.func.value
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name):
            yield target.id


def find_steps(answer: Answer) -> None:
    """Fill ``answer.steps`` and ``answer.perturbed``, to a fixed point, from every cell of the student's."""
    bindings = [pair for tree in answer.every for pair in _bindings(tree)]
    bindings += list(_arguments(answer.every))
    while True:
        before = len(answer.steps), len(answer.perturbed)
        for name, value in bindings:
            if is_step(value, answer):
                answer.steps.add(name)
            elif is_perturbed(value, answer):
                answer.perturbed.add(name)
        for tree in answer.every:
            answer.perturbed.update(_perturbations(tree, answer))
        if (len(answer.steps), len(answer.perturbed)) == before:
            return


def _bound_values(trees: list[ast.AST]) -> dict[str, list[ast.AST]]:
    """Each name the student's cells bind, with every value bound to it (assignments, defaults, arguments)."""
    values: dict[str, list[ast.AST]] = {}
    for name, value in [pair for tree in trees for pair in _bindings(tree)] + list(_arguments(trees)):
        values.setdefault(name, []).append(value)
    return values


def _names_of(node: ast.AST, values: dict[str, list[ast.AST]]) -> set[str]:
    """The names ``node`` mentions; a bare name stands for what is bound to it (``xp`` for ``x + h``)."""
    if isinstance(node, ast.Name) and values.get(node.id):
        found, todo = set(), [node]
        while todo:
            n = todo.pop()
            if isinstance(n, ast.Name) and n.id in values and n.id not in found:
                found.add(n.id)
                todo += values[n.id]
            else:
                found |= {m.id for m in _nodes(n) if isinstance(m, ast.Name)}
        return found
    return {n.id for n in _nodes(node) if isinstance(n, ast.Name)}


def _calls_in(node: ast.AST, values: dict[str, list[ast.AST]]) -> list[ast.Call]:
    """The calls in ``node``, and in the values bound to the names it uses (``fp = f(x + h); fp - fm``)."""
    calls, seen, todo = [], set(), [node]
    while todo:
        for n in _nodes(todo.pop()):
            if isinstance(n, ast.Call):
                calls.append(n)
            elif isinstance(n, ast.Name) and n.id not in seen:
                seen.add(n.id)
                todo += values.get(n.id, [])
    return calls


def _arguments_of(call: ast.Call) -> list[ast.AST]:
    return [*call.args, *(k.value for k in call.keywords)]


def is_difference_quotient(numerator: ast.AST, divisor: ast.AST, values: dict[str, list[ast.AST]]) -> bool:
    """``(f(x + h) - f(x)) / h`` whatever ``h`` holds: a difference of one function at two inputs, divided by
    what moves one input to the other (``h``) but not by the input itself (``x``). A step's value need not be
    readable for this: ``h = (delta / delta / 2) ** 20`` is a step too. ``(e^x - e^-x) / (e^x + e^-x)``
    divides by the inputs themselves, and is no difference quotient."""
    apart = _names_of(divisor, values)
    if not apart:
        return False
    for sub in _nodes(numerator):
        if not (isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub)):
            continue
        for a in _calls_in(sub.left, values):
            for b in _calls_in(sub.right, values):
                if ast.dump(a.func) != ast.dump(b.func) or ast.dump(a) == ast.dump(b):
                    continue
                for x, y in zip(_arguments_of(a), _arguments_of(b), strict=False):
                    if ast.dump(x) == ast.dump(y):
                        continue
                    here, there = _names_of(x, values), _names_of(y, values)
                    # the divisor holds what moves the input (h), not the input itself (tanh's e^x - e^-x)
                    if apart & (here | there) and not (here & there) <= apart:
                        return True
    return False


def _quotients(node: ast.AST):
    """(numerator, divisor) of a division: ``a / b``, ``torch.div(a, b)``, ``a.div(b)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv)):
        yield node.left, node.right
    elif isinstance(node, ast.Call) and (_callee(node) or "") in DIVIDE:
        args = node.args
        if isinstance(node.func, ast.Attribute) and len(args) == 1:
            args = [node.func.value, *args]
        if len(args) >= 2:
            yield args[0], args[1]


def _reciprocal(node: ast.AST) -> ast.AST | None:
    """``b`` when ``node`` is one over ``b`` to some power: ``b ** -1``, ``pow(b, -1)`` (and ``math.pow``,
    ``np.power``, ``torch.pow``, ``float_power``, ``b.pow(-1)``), ``reciprocal(b)``, ``b.reciprocal()``,
    ``rsqrt(b)``, ``2 / b``; None otherwise."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = fold(node.right)
        return node.left if exponent is not None and exponent < 0 else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return node.right if fold(node.left) is not None else None
    if not isinstance(node, ast.Call):
        return None
    name, method = _callee(node) or "", isinstance(node.func, ast.Attribute)
    keywords = {k.arg: k.value for k in node.keywords}
    args = [
        *node.args,
        *(keywords[k] for k in ("input", "exponent") if k in keywords),
    ]  # torch.pow(b, exponent=-1)
    if name in POWER:
        if len(args) >= 2:
            base, exponent = args[0], args[1]
        elif len(args) == 1 and method:
            base, exponent = node.func.value, args[0]
        else:
            return None
        value = fold(exponent)
        return base if value is not None and value < 0 else None
    if name in RECIPROCAL:
        return args[0] if args else node.func.value if method else None
    return None


def _products(node: ast.AST, values: dict[str, list[ast.AST]]):
    """(numerator, divisor) of a product with a reciprocal, a division written otherwise: ``d * pow(h, -1)``,
    ``d * torch.reciprocal(h)``, ``torch.mul(d, h ** -1)``, ``d * inverse`` where ``inverse = 1 / h``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        factors = [node.left, node.right]
    elif isinstance(node, ast.Call) and (_callee(node) or "") in MULTIPLY:
        factors = list(node.args)
        if isinstance(node.func, ast.Attribute) and len(factors) == 1:
            factors = [node.func.value, *factors]
        if len(factors) != 2:
            return
    else:
        return
    for numerator, factor in (factors, factors[::-1]):
        named = values.get(factor.id, []) if isinstance(factor, ast.Name) else []
        for candidate in [factor, *named]:
            divisor = _reciprocal(candidate)
            if divisor is not None:
                yield numerator, divisor


def numeric(answer: Answer) -> list[Finding]:
    """Numerical differentiation: a difference divided by a step, in any of its forms (see the notes)."""
    if not answer.steps and not answer.perturbed:
        find_steps(answer)
    found = []
    complex_step = imaginary = False
    values = _bound_values(answer.every)
    for node in _walk(answer):
        for numerator, divisor in _quotients(node):
            if not is_step(divisor, answer) and is_difference_quotient(numerator, divisor, values):
                found.append(Finding(_code(node), _line(node)))
        for numerator, divisor in _products(node, values):  # times a reciprocal: a division too
            if is_step(divisor, answer) or is_difference_quotient(numerator, divisor, values):
                found.append(Finding(_code(node), _line(node)))
        if isinstance(node, ast.Call):
            divisor = _reciprocal(node)  # pow(2 * h, -1), torch.reciprocal(h): a step's reciprocal
            if divisor is not None and is_step(divisor, answer):
                found.append(Finding(_code(node), _line(node)))
        if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mult)):
            target = node.target.id if isinstance(node.target, ast.Name) else None
            numerators = values.get(target, []) if target else []
            divisor = node.value if not isinstance(node.op, ast.Mult) else _reciprocal(node.value)
            if (
                divisor is not None
                and not is_step(divisor, answer)
                and any(is_difference_quotient(n, divisor, values) for n in numerators)
            ):
                found.append(Finding(_code(node), _line(node)))
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Div, ast.FloorDiv)) and is_step(node.right, answer):
                found.append(Finding(_code(node), _line(node)))
            elif isinstance(node.op, ast.Pow) and is_step(node.left, answer):
                exponent = fold(node.right)
                if exponent is not None and exponent < 0:
                    found.append(Finding(_code(node), _line(node)))
            elif isinstance(node.op, ast.Mult) and (_large(node.left, HUGE) or _large(node.right, HUGE)):
                found.append(Finding(_code(node), _line(node)))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Div, ast.FloorDiv)):
            if is_step(node.value, answer):
                found.append(Finding(_code(node), _line(node)))
        elif isinstance(node, ast.Call):
            name = _callee(node) or ""
            args = node.args if isinstance(node.func, ast.Name) or name in ("divide", "true_divide") else []
            if isinstance(node.func, ast.Attribute) and name in DIVIDE:
                args = node.args if len(node.args) >= 2 else [node.func.value, *node.args]
            if name in DIVIDE and len(args) >= 2 and is_step(args[1], answer):
                found.append(Finding(_code(node), _line(node)))
            if name == "complex":
                imaginary = True
        if isinstance(node, ast.Attribute):  # a library's differentiator (imported names: below)
            if node.attr in NUMERIC_API:
                found.append(Finding(_dotted(node) or node.attr, _line(node)))
            complex_step |= node.attr == "imag"
        if isinstance(node, ast.Constant) and isinstance(node.value, complex):
            imaginary = True
    if complex_step and imaginary:
        found.append(Finding("complex step (.imag)", 0))
    for tree in answer.trees:
        for name, node in _imports(tree):
            last = name.rsplit(".", 1)[-1]
            if name.startswith(NUMERIC_PACKAGES) or last in NUMERIC_API:
                found.append(Finding(f"import {name}", _line(node)))
    return found


# --------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Kind:
    find: Callable[[Answer], list[Finding]]
    message: str  # the key in messages.toml; its placeholders are {name} and {found}


ENGINE_READS = {"backward", "local_backward", "zero_grad"}  # what a local rule may not read from the engine
ENGINE_NAMES = {"backward", "topological_order", "zero_grad"}


OPERATOR_METHODS = {  # an operator on a Value runs the method of this name (or its reflected form)
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "truediv",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}


def _reached_names(node: ast.AST) -> set[str]:
    """The names of functions that ``node`` may run: a name it reads (called or handed on: a factory, a
    rule stored elsewhere), a method it calls or reads (``Value.spread``, ``self.spread``), and the method
    behind an operator (``a * b`` runs ``__mul__`` or ``__rmul__``)."""
    names = set()
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        names.add(node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
        names.add(node.attr)
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in OPERATOR_METHODS:
        method = OPERATOR_METHODS[type(node.op)]
        names |= {f"__{method}__", f"__r{method}__", f"__i{method}__"}
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        names.add("__neg__")
    return names - ENGINE_READS - ENGINE_NAMES  # those are findings themselves


def _definitions(trees: list[ast.AST]) -> tuple[dict[str, list[ast.AST]], list[tuple[str, ast.AST]]]:
    """The functions of ``trees`` by every name they can be run under, and the (attribute, value) pairs
    that store something on an attribute. A function is known by its name where it is defined (``def``,
    ``f = lambda``) and by every attribute it is assigned to (``Value.__pow__ = power``, ``Value.spread =
    staticmethod(helper)``, and a lambda written in the value itself: ``Value.rule = property(lambda self:
    …)``); a class's name runs its constructor."""
    defined: dict[str, list[ast.AST]] = {}
    assigned: list[tuple[ast.AST, ast.AST]] = []  # (target, value) pairs, tuples taken apart
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        assigned += list(
                            zip(target.elts, node.value.elts, strict=False)
                        )  # unequal: no tuple unpacked
                    else:
                        assigned.append((target, node.value))
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.setdefault(node.name, []).append(node)
    for target, value in assigned:
        if isinstance(target, ast.Name) and isinstance(value, ast.Lambda):  # rule = lambda: …
            defined.setdefault(target.id, []).append(value)
    aliases = [(target.attr, value) for target, value in assigned if isinstance(target, ast.Attribute)]
    for tree in trees:  # setattr(Value, "spread", helper)
        for node in _nodes(tree):
            if isinstance(node, ast.Call) and _callee(node) == "setattr" and len(node.args) == 3:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    aliases.append((name.value, node.args[2]))
    for attr, value in aliases:  # Value.spread = helper (or staticmethod(helper)): a call of .spread runs it
        for node in _nodes(value):
            if isinstance(node, ast.Name) and node.id in defined and node.id != attr:
                defined.setdefault(attr, []).extend(defined[node.id])
            elif isinstance(node, ast.Lambda) and attr != "local_backward":  # property(lambda self: …)
                defined.setdefault(attr, []).append(node)
    classes = {node.name for tree in trees for node in _nodes(tree) if isinstance(node, ast.ClassDef)}
    for name in classes:  # Value(…) runs the constructor
        defined.setdefault(name, []).extend(defined.get("__init__", []))
    return defined, aliases


def _reached(todo: list[ast.AST], defined: dict[str, list[ast.AST]]) -> list[ast.AST]:
    """``todo`` and every function one of them may run (see ``_reached_names``), transitively."""
    seen: list[ast.AST] = []
    while todo:
        function = todo.pop()
        if any(function is other for other in seen):
            continue
        seen.append(function)
        for node in _nodes(function):
            for name in _reached_names(node):
                todo += defined.get(name, [])
    return seen


def _rules_and_helpers(
    trees: list[ast.AST], answer: str = "", every: list[ast.AST] | None = None
) -> list[ast.AST]:
    """The answer function ``answer`` itself (a rule may ask the engine when the node is made, and keep
    the result as a constant), every function stored as a node's ``local_backward`` (``out.local_backward
    = f``, a lambda, or what a factory call returns), and every function of the student's that one of them
    may run (see ``_reached_names``), transitively. Names are looked up in the answer's cells ``trees``,
    and a name they do not define in ``every`` cell of the student's (a helper bound to a lambda in a cell
    of its own): another exercise's rules, which share the names of the answer's own, stay out."""
    own, aliases = _definitions(trees)
    defined = dict(own)
    if every is not None:
        for name, functions in _definitions(every)[0].items():
            defined.setdefault(name, functions)
    todo: list[ast.AST] = list(own.get(answer, [])) if answer else []
    for attr, value in aliases:
        if attr == "local_backward":
            if isinstance(value, ast.Lambda):
                todo.append(value)
            else:  # a name (``local_backward`` too), or a factory's call: every function it may run
                for node in _nodes(value):
                    names = _reached_names(node) | ({node.id} if isinstance(node, ast.Name) else set())
                    for name in names:
                        todo += own.get(name, [])
    return _reached(todo, defined)


def _own_nodes(scope: ast.AST):
    """The nodes of a cell or a function that run in it: a nested function's or lambda's body is its own."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, FUNCTION_SCOPES):
            todo += list(ast.iter_child_nodes(node))


def _rule_attributes(trees: list[ast.AST]) -> set[str]:
    """``local_backward`` and every attribute a node's rule is stored under besides: a chained assignment
    (``out.local_backward = out.step = rule``), or, in the same function, the name stored as a
    ``local_backward`` stored on another attribute too (``out.step = rule``)."""
    found = {"local_backward"}
    for tree in trees:
        for scope in [tree, *(n for n in _nodes(tree) if isinstance(n, FUNCTION_SCOPES))]:
            stores = [n for n in _own_nodes(scope) if isinstance(n, ast.Assign)]
            rules = {
                n.id
                for store in stores
                if any(isinstance(t, ast.Attribute) and t.attr == "local_backward" for t in store.targets)
                for n in _nodes(store.value)
                if isinstance(n, ast.Name)
            }
            for store in stores:
                attributes = {t.attr for t in store.targets if isinstance(t, ast.Attribute)}
                shared = isinstance(store.value, ast.Name) and store.value.id in rules
                if "local_backward" in attributes or shared:
                    found |= attributes
    return found


def _stray_rule_reads(answer: Answer, defined: dict[str, list[ast.AST]]) -> list[Finding]:
    """Reads of a node's rule (``.local_backward``, or an attribute it is also stored under) outside the
    engine's ``backward()`` and what it runs: in a ``property(lambda self: self.local_backward)``, a lambda,
    a helper. Storing a rule is no read, and neither is calling one at the top of a cell (a check run once,
    as the lecture's cells do); anywhere else a rule read can run another node's rule inside a rule."""
    attributes = _rule_attributes(answer.trees)
    engine = _reached(list(defined.get("backward", [])), defined)  # backward() runs every node's rule
    inside = {id(node) for function in engine for node in _nodes(function)}
    found = []
    for tree in answer.trees:
        called_at_top = {
            id(node.func)
            for node in _own_nodes(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        for node in _nodes(tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
                continue
            if node.attr in attributes and id(node) not in inside and id(node) not in called_at_top:
                found.append(Finding(f".{node.attr}", _line(node)))
    return found


def engine_in_rule(answer: Answer) -> list[Finding]:
    """A local rule that asks the engine for the gradient: the answer function, a ``local_backward``, or a
    function either may run (``_rules_and_helpers``) that reads ``.backward``, ``.local_backward`` or
    ``.zero_grad``, or names ``backward``, ``topological_order`` or ``zero_grad``, so that backpropagation
    through a graph of other operations, when the rule runs or when the node is made, not a derivation,
    gives the local gradient; and a node's rule read anywhere in the answer's cells outside the engine's
    ``backward()`` (``_stray_rule_reads``): under another name, it runs another node's rule unseen."""
    found = []
    for function in _rules_and_helpers(answer.trees, answer.name, answer.every):
        for node in _nodes(function):
            read = isinstance(getattr(node, "ctx", None), ast.Load)
            if read and isinstance(node, ast.Attribute) and node.attr in ENGINE_READS:
                found.append(Finding(f".{node.attr}", _line(node)))
            elif read and isinstance(node, ast.Name) and node.id in ENGINE_NAMES:
                found.append(Finding(node.id, _line(node)))
    found += _stray_rule_reads(answer, _definitions(answer.trees)[0])
    found += _rule_aliases(answer)
    return sorted(set(found), key=lambda finding: (finding.line, finding.what))


ALIAS_HOOKS = {"__setattr__", "__getattr__", "__set__", "__get__", "__set_name__"}  # a descriptor's too


def _rule_aliases(answer: Answer) -> list[Finding]:
    """What can hand a node's rule on under another name unseen, anywhere in the student's cells: a
    ``__setattr__`` (defined, assigned or called, ``object.__setattr__`` included), a ``property``, and a
    descriptor's or ``__getattr__``'s hooks."""
    found = []
    for tree in answer.every or answer.trees:
        for node in _nodes(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ALIAS_HOOKS:
                found.append(Finding(f"def {node.name}", _line(node)))
            elif isinstance(node, ast.Attribute) and node.attr == "__setattr__":
                found.append(Finding(_dotted(node) or ".__setattr__", _line(node)))
            elif isinstance(node, ast.Name) and node.id == "property":
                found.append(Finding("property", _line(node)))
    return found


# Python's own modules that do no arithmetic for the answer: the engine is written with float and math only
ENGINE_MODULES = {"math", "random", "itertools", "functools", "collections", "contextlib", "typing", "copy"}
ENGINE_MODULES |= {"dataclasses", "heapq", "abc", "enum", "types", "weakref", "warnings", "time", "sys"}
ENGINE_MODULES |= {"__future__"}


def libraries(answer: Answer) -> list[Finding]:
    """A module other than ``math`` and Python's general helpers (``ENGINE_MODULES``), where the engine is
    written with Python's float and math only: numpy, scipy, torch, decimal, fractions, cmath, mpmath, …,
    imported in the answer's cells or reached through a name another cell binds to one (the setup's
    ``torch`` included). The course's package and the modules that run code unseen are other kinds'."""
    others = ENGINE_MODULES | {PACKAGE, *DYNAMIC_MODULES}
    imported = {name.split(".")[0] for tree in answer.every for name, _ in _imports(tree)}
    foreign = tuple(sorted((imported | set(TORCH_TOPS)) - others))
    found = []
    for tree in answer.trees:
        for name, node in _imports(tree):
            if name.split(".")[0] not in others:
                found.append(Finding(f"import {name}", _line(node)))
    for node in foreign_uses(answer, set(TORCH_TOPS) | set(answer.torch_globals), foreign):
        found.append(Finding(node.id, _line(node)))
    found += _library_functions(answer, READY_SOFTMAX)  # a library's log-sum-exp, on whatever object it came
    return found


KINDS = {
    "autograd": Kind(autograd, "rule_autograd"),
    "numeric": Kind(numeric, "rule_numeric"),
    "package": Kind(package, "rule_package"),
    "dynamic": Kind(dynamic, "rule_dynamic"),
    "jacobian": Kind(jacobian, "rule_jacobian"),
    "torch": Kind(torch_itself, "rule_predict_torch"),
    "recursion": Kind(recursion, "rule_recursion"),
    "loops": Kind(loops, "rule_loops"),
    "vmap": Kind(without_vmap, "rule_vmap"),
    "data": Kind(legacy_data, "rule_legacy_data"),
    "softmax": Kind(ready_softmax, "rule_ready_softmax"),
    "logsumexp": Kind(ready_logsumexp, "rule_ready_softmax"),
    "eigensolver": Kind(eigensolver, "rule_eigensolver"),
    "create_graph": Kind(without_create_graph, "rule_double_backward"),
    "function_autograd": Kind(function_autograd, "rule_function_autograd"),
    "engine_in_rule": Kind(engine_in_rule, "rule_engine_in_rule"),
    "libraries": Kind(libraries, "rule_engine_libraries"),
}

RULES = {  # rule → the kinds of findings it refuses, reported in this order
    "by_hand": ("autograd", "numeric", "package", "dynamic"),
    "without_jacobian": ("jacobian", "numeric", "package", "dynamic"),
    "predict": ("torch", "package", "dynamic"),
    "iterative": ("recursion", "package", "dynamic"),
    "without_loops": ("loops",),
    "closed_form": ("loops", "recursion", "package", "dynamic"),
    "with_vmap": ("vmap", "loops", "numeric", "package", "dynamic"),
    "without_data": ("data", "numeric", "package", "dynamic"),
    "own_softmax": ("softmax", "package", "dynamic"),
    "own_logsumexp": ("logsumexp", "package", "dynamic"),
    "own_eigenvalues": ("eigensolver", "package", "dynamic"),
    "own_code": ("package", "dynamic"),
    "double_backward": ("create_graph", "numeric", "package", "dynamic"),
    "own_check": ("autograd", "package", "dynamic"),
    "own_function": ("function_autograd", "numeric", "package", "dynamic"),
    "own_rules": ("engine_in_rule", "dynamic"),
    "own_engine": ("libraries", "package", "dynamic"),
}
# a rule that refuses a kind for a reason of its own names it in its own words: a closed form needs no loop
# and no recursion (without_loops asks for operations on the whole batch, iterative for a stack)
RULE_MESSAGES = {
    "closed_form": {"loops": "rule_loops_closed_form", "recursion": "rule_recursion_closed_form"},
}


def message_of(kind: str, rules: tuple[str, ...]) -> str:
    """The message key for a finding of ``kind``: that of the first of ``rules`` refusing it."""
    for rule in (rules,) if isinstance(rules, str) else rules:
        if kind in RULES[rule]:
            return RULE_MESSAGES.get(rule, {}).get(kind, KINDS[kind].message)
    return KINDS[kind].message


# ---------------------------------------------------------------------------------- names in scope
#
# A name the answer uses is the student's own only where the student's binding of it is in scope: a
# parameter or local of an enclosing function (or lambda, or comprehension), a name bound in the class body
# it is used in, or a module-level binding made before the use. A binding anywhere else (a local of another
# function, an assignment after a module-level use) leaves the use pointing at whatever else binds the name.

FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _binds(node: ast.AST, names: set[str], declared: set[str]) -> None:
    """Add to ``names`` what ``node`` binds in the scope it runs in, and to ``declared`` the names it declares
    ``global``. A nested function or class binds its own name there, not what its body binds; a
    comprehension binds nothing there but the targets of its ``:=``."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(node.name)
        return
    if isinstance(node, ast.Lambda):
        return
    if isinstance(node, COMPREHENSIONS):
        for inner in _nodes(node):
            if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                names.add(inner.target.id)
        return
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        names.add(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*"}
    elif isinstance(node, ast.ExceptHandler) and node.name:
        names.add(node.name)
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        names.add(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        names.add(node.rest)
    elif isinstance(node, ast.Global):
        declared.update(node.names)
    for child in ast.iter_child_nodes(node):
        _binds(child, names, declared)


def _locals(scope: ast.AST) -> set[str]:
    """The names a function, lambda or comprehension binds for itself: its parameters (its loop targets),
    and what its body binds, less the names it declares ``global``."""
    names: set[str] = set()
    declared: set[str] = set()
    if isinstance(scope, COMPREHENSIONS):
        for generator in scope.generators:
            _binds(generator.target, names, declared)
        return names
    arguments = scope.args
    names |= {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    for statement in scope.body if isinstance(scope.body, list) else [scope.body]:
        _binds(statement, names, declared)
    return names - declared


@dataclass(frozen=True)
class Use:
    """A name loaded where no enclosing function or class body binds it: a module-level name."""

    node: ast.Name
    statement: int  # the index of the module-level statement the use is written in
    runs_later: bool  # inside a function or lambda: it runs when that is called, after its cell


def free_uses(tree: ast.AST) -> list[Use]:
    """Every load of a module-level name in ``tree`` (a cell), in order."""
    uses: list[Use] = []

    def visit(node: ast.AST, local: frozenset[str], in_class: frozenset[str], statement: int, later: bool):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in local and node.id not in in_class:
                uses.append(Use(node, statement, later))
            return
        if isinstance(node, FUNCTION_SCOPES):
            arguments = node.args
            outside = [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                every_arg = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                every_arg += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                outside += [*node.decorator_list, *(a.annotation for a in every_arg if a.annotation)]
                outside += [node.returns] if node.returns is not None else []
            for child in outside:
                visit(child, local, in_class, statement, later)
            inside = local | _locals(node)
            for child in node.body if isinstance(node.body, list) else [node.body]:
                visit(child, inside, frozenset(), statement, True)
            return
        if isinstance(node, COMPREHENSIONS):
            first, *rest = node.generators
            visit(first.iter, local, in_class, statement, later)  # evaluated where the comprehension is
            inside = local | _locals(node)
            results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for child in [*first.ifs, *rest, *results]:
                visit(child, inside, frozenset(), statement, later)
            return
        if isinstance(node, ast.ClassDef):
            for child in [*node.decorator_list, *node.bases, *node.keywords]:
                visit(child, local, in_class, statement, later)
            body: set[str] = set()
            for child in node.body:
                _binds(child, body, set())
            for child in node.body:
                visit(child, local, frozenset(body), statement, later)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, local, in_class, statement, later)

    for index, statement in enumerate(getattr(tree, "body", [])):
        visit(statement, frozenset(), frozenset(), index, False)
    return uses


def _imports_from(node: ast.AST, tops: tuple[str, ...]) -> bool:
    return any(name.split(".")[0] in tops for name, _ in _imports(node))


def foreign_uses(answer: Answer, foreign: set[str], tops: tuple[str, ...]) -> list[ast.Name]:
    """The uses in the answer's cells of a name that, where it is used, is bound to something foreign: one of
    ``foreign`` (bound by someone else before the student's cells run), a name imported from a module of
    ``tops``, or a name the student bound to a value that uses a foreign name (an alias, to a fixed point).

    The student's cells run in order, and each module-level statement leaves a name foreign or the
    student's own: its own when the statement binds it to a value free of foreign names (a ``def`` or a
    ``class`` always: what its body uses is judged where it is called). A use at module level sees the names
    as they stand before its statement; a use inside a function runs when the tests call it, after every
    cell: it sees them as the last cell leaves them, and in the student's kernel (``answer.live``) ``foreign``
    holds the names whose values are the foreign ones right now, so no binding of the student's counts.
    A name a function declares ``global`` and binds from a foreign name stays foreign everywhere."""
    trees = {id(tree) for tree in answer.trees}
    current = set(foreign)
    before: dict[tuple[int, int], frozenset[str]] = {}
    lasting: set[str] = set()
    for tree in answer.every:
        uses = free_uses(tree)
        for index, statement in enumerate(tree.body):
            if id(tree) in trees:
                before[id(tree), index] = frozenset(current)
            bound: set[str] = set()
            _binds(statement, bound, set())
            loads = [use.node.id for use in uses if use.statement == index]
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                current -= bound
            elif _imports_from(statement, tops) or any(name in current for name in loads):
                current |= bound
            else:
                current -= bound
            for function in _nodes(statement):
                if isinstance(function, FUNCTION_SCOPES) and not isinstance(function, ast.Lambda):
                    declared = {n for g in _nodes(function) if isinstance(g, ast.Global) for n in g.names}
                    if declared and (_imports_from(function, tops) or any(n in current for n in loads)):
                        lasting |= declared
    after = current | lasting | (set(foreign) if answer.live else set())
    found = []
    for tree in answer.trees:
        for use in free_uses(tree):
            names = after if use.runs_later else before.get((id(tree), use.statement), frozenset()) | lasting
            if use.node.id in names:
                found.append(use.node)
    return found


# ---------------------------------------------------------------------------------- the answer's cells


def defined_functions(tree: ast.AST) -> set[str]:
    return {n.name for n in _nodes(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def called_names(tree: ast.AST) -> set[str]:
    return {n.id for n in _nodes(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def module_functions(tree: ast.AST) -> set[str]:
    """The functions a cell defines at module level (inside ``if``/``try``/``with`` too, not inside a ``def``
    or a ``class``): the only ones another cell can call by name. A method ``forward`` is no helper of an
    answer that takes a parameter ``forward``."""
    found, todo = set(), list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif not isinstance(node, (ast.ClassDef, ast.Lambda)):
            todo += list(ast.iter_child_nodes(node))
    return found


def defined_classes(tree: ast.AST) -> set[str]:
    return {n.name for n in _nodes(tree) if isinstance(n, ast.ClassDef)}


def bound_at_top(tree: ast.AST) -> set[str]:
    """Names a cell binds at module level: functions, classes, assignments and imports."""
    names = module_functions(tree) | defined_classes(tree)
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:  # a name, or names unpacked; not ``Value.backward = ...``
                parts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                names |= {part.id for part in parts if isinstance(part, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _bound_anywhere(trees: list[ast.AST]) -> set[str]:
    """Every name the student's cells bind, at any depth (locals and parameters included)."""
    names: set[str] = set()
    for tree in trees:
        for node in _nodes(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def instructor_names(cells: list[str], tests: list[str]) -> frozenset[str]:
    """Names the instructor's cells put beside the answers and keep for themselves: whatever the course's
    package hands the tests (in the setup or in a test), and what the test cells define. The setup's
    other names (``math``, ``torch``, its data) are handed to the student, and so are modules a test
    imports."""
    names: set[str] = set()
    handed: set[str] = set()
    for code in [*cells, *tests]:
        tree = _parse(code)
        for node in _nodes(tree) if tree is not None else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                package = node.module or "" if isinstance(node, ast.ImportFrom) else node.names[0].name
                bound = {(a.asname or a.name).split(".")[0] for a in node.names}
                (names if package.split(".")[0] == PACKAGE else handed).update(bound)
    for code in cells:
        tree = _parse(code)
        if tree is not None:
            handed |= _bound_anywhere([tree]) - names
    for code in tests:
        tree = _parse(code)
        if tree is not None:
            names |= _bound_anywhere([tree]) - handed
    return frozenset(names)


def _is_function(tree: ast.AST, name: str) -> bool:
    """Whether class ``name`` of ``tree`` subclasses ``torch.autograd.Function`` (however it is spelled)."""
    for node in _nodes(tree):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return any((_dotted(base) or "").split(".")[-1] == FUNCTION_BASE for base in node.bases)
    return False


def extends(tree: ast.AST, name: str) -> bool:
    """Whether a cell adds to class ``name``: ``name.attribute = ...`` (or ``setattr(name, ...)``)."""
    for node in _nodes(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == name:
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name:
                return True
    return False


@functools.lru_cache(maxsize=1024)
def _parse(code: str) -> ast.AST | None:
    """The cell's tree, parsed once: a class's tests ask for rules many times on the same cells. Nothing
    here changes a tree, so the same one is handed to every caller."""
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _closure(start: list[int], parsed: list, binders: dict[str, int], classes_extend: bool) -> set[int]:
    """The cells ``start`` needs: those binding the names they use, and those adding to their classes."""
    todo, seen = list(start), set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        for used in called_names(parsed[index]):
            if used in binders and binders[used] not in seen:
                todo.append(binders[used])
        if classes_extend:
            for cls in defined_classes(parsed[index]):
                todo += [
                    i for i, t in enumerate(parsed) if t is not None and i not in seen and extends(t, cls)
                ]
    return seen


def answer_of(
    name: str,
    cells: list[str],
    instructor: frozenset[str] = frozenset(),
    torch_globals: frozenset[str] = frozenset(),
    live: bool = False,
) -> Answer | None:
    """The answer ``name`` in ``cells`` (the student's cells, in order): its cell and those it needs.
    None when no cell defines it."""
    parsed = [_parse(code) for code in cells]
    every = [tree for tree in parsed if tree is not None]
    definers: dict[str, int] = {}
    callable_by_name: dict[str, int] = {}  # the functions another cell can call: module-level ones
    classes: dict[str, int] = {}
    binders: dict[str, int] = {}
    for index, tree in enumerate(parsed):
        if tree is None:
            continue
        for function in defined_functions(tree):
            definers[function] = index  # the latest definition is the one that runs
        for function in module_functions(tree):
            callable_by_name[function] = index
        for cls in defined_classes(tree):
            classes[cls] = index
        for bound in bound_at_top(tree):
            binders[bound] = index
    helpers = {**callable_by_name, **{k: v for k, v in classes.items() if v >= definers.get(k, -1)}}
    if (
        name in classes
        and classes[name] >= definers.get(name, -1)
        and _is_function(parsed[classes[name]], name)
    ):
        # a torch.autograd.Function of one's own is a pair of functions, not an engine: its cell, what
        # extends it, and the cells of the functions and classes it calls (an `import torch` elsewhere is not)
        start = [classes[name]] + [i for i, t in enumerate(parsed) if t is not None and extends(t, name)]
        seen = _closure(start, parsed, helpers, classes_extend=True)
        engine = False
    elif name in classes and classes[name] >= definers.get(name, -1):
        # an engine: the class, what extends it, and what they use (module-level names included)
        start = [classes[name]] + [i for i, t in enumerate(parsed) if t is not None and extends(t, name)]
        seen = _closure(start, parsed, binders, classes_extend=False)
        engine = True
    elif name in definers:
        seen = _closure([definers[name]], parsed, helpers, classes_extend=True)
        engine = any(defined_classes(parsed[index]) for index in seen)  # it uses an engine of its own
    else:
        return None
    trees = [parsed[index] for index in sorted(seen)]
    return Answer(trees, every, engine, instructor, torch_globals, live, name=name)


def violations(rule: str | tuple[str, ...], answer: Answer) -> list[tuple[str, list[Finding]]]:
    """(kind, findings) for each kind of ``rule`` that the answer breaks, in the rule's order."""
    kinds: list[str] = []
    for one in (rule,) if isinstance(rule, str) else rule:
        kinds += [kind for kind in RULES[one] if kind not in kinds]
    found = []
    for kind in kinds:
        findings = sorted(set(KINDS[kind].find(answer)), key=lambda f: (f.line, f.what))
        if findings:
            found.append((kind, findings))
    return found


def enforce(
    rules: tuple[str, ...],
    name: str,
    cells: list[str],
    instructor: frozenset[str] = frozenset(),
    error: type[Exception] = AssertionError,
    missing_is_error: bool = True,
    torch_globals: frozenset[str] = frozenset(),
    live: bool = False,
) -> None:
    """Raise ``error`` with the bilingual message of every kind of finding the answer breaks.

    The one function behind every rule, in the student's kernel and in the grader alike."""
    from .messages import render

    answer = answer_of(name, cells, instructor, torch_globals, live)
    if answer is None:
        if missing_is_error:
            raise error(render("by_hand_missing", name=name))
        return
    broken = violations(rules, answer)
    if broken:
        lines = []
        for kind, findings in broken:
            found = ", ".join(map(str, findings[:5]))
            key = message_of(kind, rules)
            lines.append(render(key, name=name, found=found))
            # `course grade` keeps the kind; its text in one language is render(key, lang, ...)
            recording.shortcut(kind, found, functools.partial(render, key, name=name, found=found))
        raise error("\n" + "\n".join(lines))


# ------------------------------------------------------------------------------ in the student's kernel


def _kernel_sources(function: object) -> tuple[str, list[str]]:
    """In the student's kernel: the answer's name, and the cells that hold it and its helpers.

    IPython keeps each cell's code in ``linecache`` under a name that is no file on disk: such a cell is
    read whole, as the grader reads the submitted cells. Code from a real file is read function by
    function (``inspect``)."""
    import inspect
    import textwrap

    name = getattr(function, "__name__", str(function))
    sources, todo, seen, cells = [], [function], set(), set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        functions = _functions_of(current)
        whole = [(f.__code__.co_filename, _cell(f)) for f in functions]
        whole = [(file, code) for file, code in whole if code is not None]
        if whole:
            for file, code in whole:
                if file not in cells:
                    cells.add(file)
                    sources.append(code)
                    todo += _helpers(current, code)
            continue
        if inspect.isclass(current):  # an engine: one class holding its functions, patched-on ones too
            code, helpers = _class_source(current, seen)
            sources.append(code)
            todo += helpers
            continue
        try:
            code = textwrap.dedent(inspect.getsource(current))
        except (OSError, TypeError):
            continue
        sources.append(code)
        todo += _helpers(current, code)
    return name, sources


def _functions_of(value: object) -> list:
    """A function itself, or every function a class holds (methods, static, class and property ones)."""
    import inspect

    if inspect.isfunction(value):
        return [value]
    if inspect.isclass(value):
        held = [getattr(m, "__func__", getattr(m, "fget", m)) for m in vars(value).values()]
        return [m for m in held if inspect.isfunction(m)]
    return []


def _cell(function: object) -> str | None:
    """The whole notebook cell that defined ``function``, or None when it came from a file."""
    import linecache
    import os

    filename = function.__code__.co_filename
    if os.path.exists(filename):
        return None
    return "".join(linecache.getlines(filename)) or None


def _class_source(cls: type, seen: set[int]) -> tuple[str, list]:
    """A class as one source, ``class Name(Bases):`` and every function it holds; and their helpers."""
    import inspect
    import textwrap

    methods = [getattr(m, "__func__", getattr(m, "fget", m)) for m in vars(cls).values()]
    body, helpers = ["    pass\n"], []
    for method in (m for m in methods if inspect.isfunction(m)):
        seen.add(id(method))
        try:
            body.append(textwrap.indent(textwrap.dedent(inspect.getsource(method)), "    "))
        except (OSError, TypeError):
            continue
        helpers += _helpers(method, body[-1])
    bases = [b for b in cls.__bases__ if b is not object]
    header = (
        f"class {cls.__name__}({', '.join(b.__name__ for b in bases)}):"
        if bases
        else f"class {cls.__name__}:"
    )
    for base in bases:
        if base.__module__ == "__main__":
            helpers.append(base)
        else:  # a base from elsewhere, the course's package for one: said as the import it is
            body.insert(0, f"    from {base.__module__} import {base.__name__}\n")
    return header + "\n" + "".join(body), helpers


def _helpers(function: object, code: str) -> list:
    """The student's own functions and classes (in ``__main__``) that ``code``, their source, uses."""
    import inspect
    import textwrap

    tree = _parse(textwrap.dedent(code))
    if tree is None:
        return []
    module_globals = getattr(function, "__globals__", {})
    found = []
    for called in called_names(tree) - _bound_anywhere([tree]):  # a local is no helper, whatever its name
        helper = module_globals.get(called)
        if (inspect.isfunction(helper) or inspect.isclass(helper)) and helper.__module__ == "__main__":
            found.append(helper)
    return found


def _kernel_instructor(function: object) -> frozenset[str]:
    """In the kernel: the names beside the answer whose values come from the course's package."""
    functions = _functions_of(function)
    module_globals = functions[0].__globals__ if functions else {}
    names = set()
    for key, value in list(module_globals.items()):
        module = value.__name__ if isinstance(value, type(math)) else getattr(value, "__module__", None)
        if isinstance(module, str) and module.split(".")[0] == PACKAGE:
            names.add(key)
    return frozenset(names)


def _kernel_torch_globals(function: object, sources: list[str]) -> frozenset[str]:
    """In the kernel: the names the answer's code uses whose values, in its globals, are torch's (a module,
    function, class, tensor or optimizer of torch's): ``T = torch`` run in a cell the kernel cannot read."""
    functions = _functions_of(function)
    module_globals = functions[0].__globals__ if functions else {}
    names = set()
    for code in sources:
        tree = _parse(code)
        for used in called_names(tree) if tree is not None else ():
            if used not in module_globals:
                continue
            value = module_globals[used]
            module = value.__name__ if isinstance(value, type(math)) else getattr(value, "__module__", None)
            if not isinstance(module, str):
                module = type(value).__module__
            if module.split(".")[0] in TORCH_TOPS:
                names.add(used)
    return frozenset(names)


def assert_rules(function: object, *rules: str) -> None:
    """Fail, naming what was found, if the answer ``function`` breaks any of ``rules`` (keys of ``RULES``).

    This copy runs in the student's kernel and reads the source there, for instant notice; ``course grade``
    replaces it with a check of the submitted notebook's cells, made outside the student's process."""
    __tracebackhide__ = True
    from .checker import CheckFailed

    unknown = [rule for rule in rules if rule not in RULES]
    if unknown or not rules:
        raise ValueError(f"unknown rules {unknown}; the rules are {sorted(RULES)}")
    name, sources = _kernel_sources(function)
    torch_globals = _kernel_torch_globals(function, sources)
    enforce(rules, name, sources, _kernel_instructor(function), CheckFailed, False, torch_globals, live=True)


def assert_by_hand(function: object) -> None:
    """A derivation by hand: no autograd, no numerical differentiation, nothing from the course's package."""
    __tracebackhide__ = True
    assert_rules(function, "by_hand")


def assert_without_jacobian(function: object) -> None:
    """``torch.autograd.grad`` row by row: no ready-made Jacobian (``torch.autograd.functional``,
    ``torch.func``, ``vmap``)."""
    __tracebackhide__ = True
    assert_rules(function, "without_jacobian")


def assert_predicts(function: object) -> None:
    """A prediction of torch's behaviour: the answer models the rule, it does not run torch."""
    __tracebackhide__ = True
    assert_rules(function, "predict")


SHORT_FORMS = {  # the names test cells use, and the rules each stands for
    "assert_by_hand": ("by_hand",),
    "assert_without_jacobian": ("without_jacobian",),
    "assert_predicts": ("predict",),
}
