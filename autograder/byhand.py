"""By hand means by hand: find autograd in the code of an answer that was to be derived by hand.

A test cell of a by-hand exercise calls ``assert_by_hand(the_function)``. Where the decision counts, in
``course grade``, the grader runs that call itself (see :mod:`autograder.judge`) on the source the student
submitted, read from the notebook, not from the student's running process: a tampered kernel changes
nothing. In the student's own kernel the same check reads the function's source with ``inspect`` and
warns at once; that copy can be fooled, and does not decide the grade.

What counts as using autograd: ``.backward(...)``, ``torch.autograd`` (``grad``, ``functional``, …),
``torch.func`` / ``functorch``, and ``.grad`` read from a tensor. What cannot be checked counts too:
``getattr`` with a computed name, ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``,
``globals()``, ``vars()``, ``__dict__``, ``__builtins__``, ``sys.modules`` — a derivation by hand needs
none of them. The cells searched are the one defining the function and, transitively, the cells
defining the student's own helpers it calls.

An exercise that asks for autograd used one way (a Jacobian built row by row with ``torch.autograd.grad``)
checks the same cells with ``assert_without_jacobian``: a ready-made Jacobian (``torch.autograd.functional``,
``torch.func``, ``functorch``, ``vmap``) and the constructs that could hide one are what it finds.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

AUTOGRAD_ATTRS = {
    "backward",
    "autograd",
    "func",
    "grad",
    "jacobian",
    "hessian",
    "vjp",
    "jvp",
    "jacrev",
    "jacfwd",
    "grad_fn",
}
AUTOGRAD_MODULES = {"torch.autograd", "torch.func", "functorch", "torch.autograd.functional"}
DYNAMIC_NAMES = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "globals",
    "vars",
    "locals",
    "getattr",
    "setattr",
    "importlib",
    "__builtins__",
    "builtins",
}
DYNAMIC_ATTRS = {"__dict__", "__builtins__", "modules", "__getattribute__", "__globals__", "import_module"}


@dataclass(frozen=True)
class Finding:
    what: str  # the construct, as code
    line: int

    def __str__(self) -> str:
        return f"{self.what} (line {self.line})"


def _findings(tree: ast.AST) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            if node.attr == "grad" and isinstance(node.ctx, ast.Load):
                found.append(Finding(".grad", line))
            elif node.attr in AUTOGRAD_ATTRS - {"grad"}:
                found.append(Finding(f".{node.attr}", line))
            elif node.attr in DYNAMIC_ATTRS:
                found.append(Finding(f".{node.attr}", line))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names]
            for name in [module, *names] if module else names:
                if name and (name in AUTOGRAD_MODULES or name.split(".")[0] in ("functorch", "importlib")):
                    found.append(Finding(f"import {name}", line))
            if module == "torch" and {"autograd", "func"} & set(names):
                found.append(Finding("from torch import autograd/func", line))
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            found.append(Finding(node.id, line))
    return sorted(set(found), key=lambda f: (f.line, f.what))


JACOBIAN_PREFIXES = ("torch.autograd.functional", "autograd.functional", "torch.func", "functorch")
JACOBIAN_ATTRS = {"jacobian", "hessian", "jacrev", "jacfwd", "vmap", "hvp", "vhp", "jvp"}


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names and attributes, None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _jacobian_findings(tree: ast.AST) -> list[Finding]:
    """A ready-made Jacobian, or what could hide one (the dynamic constructs of ``_findings``)."""
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node) or ""
            if node.attr in JACOBIAN_ATTRS or dotted.startswith(JACOBIAN_PREFIXES):
                found.append(Finding(dotted or f".{node.attr}", line))
            elif node.attr == "functional" and dotted.endswith("autograd.functional"):
                found.append(Finding(dotted, line))
            elif node.attr in DYNAMIC_ATTRS:
                found.append(Finding(f".{node.attr}", line))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names]
            for name in [module, *names] if module else names:
                if name and (name.startswith(JACOBIAN_PREFIXES) or name.split(".")[0] == "importlib"):
                    found.append(Finding(f"import {name}", line))
            if module in ("torch", "torch.autograd") and {"func", "functional"} & set(names):
                found.append(Finding(f"from {module} import func/functional", line))
            helpers = sorted(JACOBIAN_ATTRS & set(names))
            if helpers:
                found.append(Finding(f"from {module} import {', '.join(helpers)}", line))
        elif isinstance(node, ast.Name) and (node.id in DYNAMIC_NAMES or node.id in JACOBIAN_ATTRS):
            found.append(Finding(node.id, line))
    return sorted(set(found), key=lambda f: (f.line, f.what))


def defined_functions(tree: ast.AST) -> set[str]:
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def called_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def check_sources(name: str, cells: list[str], rule=None) -> tuple[bool, list[Finding]]:
    """Whether ``name`` is defined in ``cells`` (the student's cells, in order), and what autograd use
    its cell and its helpers' cells contain (``rule``: what to look for in a parsed cell; by default,
    any autograd at all)."""
    rule = rule or _findings
    parsed = []
    for code in cells:
        try:
            parsed.append(ast.parse(code))
        except SyntaxError:
            parsed.append(None)
    definers: dict[str, int] = {}
    for index, tree in enumerate(parsed):
        if tree is not None:
            for function in defined_functions(tree):
                definers[function] = index  # the latest definition is the one that runs
    if name not in definers:
        return False, []
    todo, seen = [definers[name]], set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        for called in called_names(parsed[index]):
            if called in definers and definers[called] not in seen:
                todo.append(definers[called])
    findings = []
    for index in sorted(seen):
        findings += rule(parsed[index])
    return True, findings


def _kernel_sources(function: object) -> tuple[str, list[str]]:
    """In the student's kernel: the function's name and the sources of it and of its helpers."""
    import inspect
    import textwrap

    name = getattr(function, "__name__", str(function))
    sources, todo, seen = [], [function], set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        try:
            code = textwrap.dedent(inspect.getsource(current))
        except (OSError, TypeError):
            continue
        sources.append(code)
        module_globals = getattr(current, "__globals__", {})
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for called in called_names(tree):
            helper = module_globals.get(called)
            if inspect.isfunction(helper) and helper.__module__ == "__main__":
                todo.append(helper)
    return name, sources


def assert_by_hand(function: object) -> None:
    """Fail, naming what was found, if a by-hand exercise's answer uses autograd.

    This copy runs in the student's kernel and reads the source there, for instant notice; ``course grade``
    replaces it with a check of the submitted notebook's cells, made outside the student's process."""
    __tracebackhide__ = True
    from .checker import CheckFailed
    from .messages import render

    name, sources = _kernel_sources(function)
    defined, findings = check_sources(name, sources)
    if defined and findings:
        found = ", ".join(map(str, findings[:5]))
        raise CheckFailed("\n" + render("by_hand_autograd", name=name, found=found))


def _submitted_cells() -> list[str] | None:
    """Under ``course grade``: the submitted cells the trusted judge keeps, found through the trusted
    ``assert_by_hand`` it binds into the test's namespace. None in a student's kernel."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        judge = getattr(frame.f_globals.get("assert_by_hand"), "__self__", None)
        cells = getattr(judge, "student_cells", None)
        if isinstance(cells, list):
            return list(cells)
        frame = frame.f_back
    return None


def assert_without_jacobian(function: object) -> None:
    """Fail, naming what was found, if an answer builds its Jacobian with a ready-made helper
    (``torch.autograd.functional.jacobian``, ``torch.func.jacrev``, ``vmap``, …) instead of
    ``torch.autograd.grad`` row by row.

    Under ``course grade`` it reads the submitted cells the judge keeps (outside the student's process);
    in a kernel, and under stock ``nbgrader autograde``, the function's source there."""
    __tracebackhide__ = True
    from .checker import CheckFailed
    from .messages import render

    cells = _submitted_cells()
    if cells is None:
        name, cells = _kernel_sources(function)
    else:
        name = getattr(function, "__name__", None) or str(function)
    defined, findings = check_sources(name, cells, rule=_jacobian_findings)
    if not defined and _submitted_cells() is not None:
        raise CheckFailed("\n" + render("by_hand_missing", name=name))
    if findings:
        found = ", ".join(map(str, findings[:5]))
        raise CheckFailed("\n" + render("jacobian_helper_used", name=name, found=found))
