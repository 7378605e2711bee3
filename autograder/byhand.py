"""By hand means by hand: find autograd in the code of an answer that was to be derived by hand.

A test cell of a by-hand exercise calls ``assert_by_hand(the_function)``. Where the decision counts, in
``course grade``, the grader runs that call itself (see :mod:`autograder.grading.judge`) on the source
the student submitted, read from the notebook, not from the student's running process: a tampered kernel
changes nothing. In the student's own kernel the same check reads the function's source with ``inspect`` and
warns at once; that copy can be fooled, and does not decide the grade.

What counts as using autograd: ``.backward(...)``, ``torch.autograd`` (``grad``, ``functional``, …),
``torch.func`` / ``functorch``, and ``.grad`` read from a tensor. What cannot be checked counts too:
``getattr`` with a computed name, ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``,
``globals()``, ``vars()``, ``__dict__``, ``__builtins__``, ``sys.modules`` — a derivation by hand needs
none of them. The cells searched are the one defining the function and, transitively, the cells
defining the student's own helpers it calls.

A class is an engine of one's own (unit 5's ``Value``): the whole class is the answer, so the cells
searched are its definition, the cells that add to it (``Value.backward = backward``) and, transitively,
the cells defining the names they use (functions, classes, module-level names and imports). An engine has
its own ``.grad`` and ``.backward``, so those are allowed; what counts is torch itself (the name
``torch``, importing it, or ``requires_grad``, ``requires_grad_``, ``retain_grad`` on a tensor that came
from elsewhere), the other autograd attributes, and everything that cannot be checked.
A function that uses such a class (a training loop on ``Value``) is judged by the same rule.
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
ENGINE_ALLOWED = {"grad", "backward"}  # an engine of one's own defines these itself
TENSOR_AUTOGRAD = {"requires_grad", "requires_grad_", "retain_grad"}
AUTOGRAD_PACKAGES = {"torch", "functorch", "jax", "autograd", "tensorflow", "mxnet", "importlib"}


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


def _engine_findings(tree: ast.AST) -> list[Finding]:
    """In an engine of one's own: torch itself, autograd except ``.grad``/``.backward``, dynamic code."""
    found = [f for f in _findings(tree) if f.what.lstrip(".") not in ENGINE_ALLOWED]
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id == "torch":
            found.append(Finding("torch", line))
        elif isinstance(node, ast.Attribute) and node.attr in TENSOR_AUTOGRAD:
            found.append(Finding(f".{node.attr}", line))
        elif isinstance(node, ast.keyword) and node.arg in TENSOR_AUTOGRAD:
            found.append(Finding(f"{node.arg}=", line))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for name in [module] if module else [alias.name for alias in node.names]:
                if name and name.split(".")[0] in AUTOGRAD_PACKAGES:
                    found.append(Finding(f"import {name}", line))
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


def defined_classes(tree: ast.AST) -> set[str]:
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}


def bound_at_top(tree: ast.AST) -> set[str]:
    """Names a cell binds at module level: functions, classes, assignments and imports."""
    names = defined_functions(tree) | defined_classes(tree)
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:  # a name, or names unpacked; not ``Value.backward = ...``
                parts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                names |= {part.id for part in parts if isinstance(part, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def extends(tree: ast.AST, name: str) -> bool:
    """Whether a cell adds to class ``name``: ``name.attribute = ...`` (or ``setattr(name, ...)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == name:
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name:
                return True
    return False


def _check_class(name: str, parsed: list) -> tuple[bool, list[Finding]]:
    """The whole engine: the class, what extends it, and what they use (module-level names included)."""
    binders: dict[str, int] = {}
    for index, tree in enumerate(parsed):
        if tree is not None:
            for bound in bound_at_top(tree):
                binders[bound] = index
    todo = [binders[name]] + [i for i, tree in enumerate(parsed) if tree is not None and extends(tree, name)]
    seen: set[int] = set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        for used in called_names(parsed[index]):
            if used in binders and binders[used] not in seen:
                todo.append(binders[used])
    findings = []
    for index in sorted(seen):
        findings += _engine_findings(parsed[index])
    return True, findings


def check_sources(name: str, cells: list[str], rule=None) -> tuple[bool, list[Finding]]:
    """Whether ``name`` is defined in ``cells`` (the student's cells, in order), and what autograd use
    its cell and its helpers' cells contain (for a class: the whole engine, see the module's notes;
    ``rule``: what to look for in a parsed cell instead, e.g. a ready-made Jacobian)."""
    parsed = []
    for code in cells:
        try:
            parsed.append(ast.parse(code))
        except SyntaxError:
            parsed.append(None)
    definers: dict[str, int] = {}
    classes: dict[str, int] = {}
    for index, tree in enumerate(parsed):
        if tree is not None:
            for function in defined_functions(tree):
                definers[function] = index  # the latest definition is the one that runs
            for cls in defined_classes(tree):
                classes[cls] = index
    if name in classes and classes[name] >= definers.get(name, -1):
        return _check_class(name, parsed)
    if name not in definers:
        return False, []
    todo, seen = [definers[name]], set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        for called in called_names(parsed[index]):
            for known in (definers, classes):
                if called in known and known[called] not in seen:
                    todo.append(known[called])
        for cls in defined_classes(parsed[index]):  # an engine used here: the cells adding to it too
            todo += [
                i
                for i, tree in enumerate(parsed)
                if tree is not None and i not in seen and extends(tree, cls)
            ]
    engine = any(defined_classes(parsed[index]) for index in seen)  # it uses an engine of one's own
    findings = []
    for index in sorted(seen):
        if rule is not None:
            findings += rule(parsed[index])
        else:
            findings += (_engine_findings if engine else _findings)(parsed[index])
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


def _class_source(cls: type, seen: set[int]) -> tuple[str, list]:
    """A class as one source, ``class Name:`` and every function it holds; and the helpers they use."""
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
    return f"class {cls.__name__}:\n" + "".join(body), helpers


def _helpers(function: object, code: str) -> list:
    """The student's own functions and classes (in ``__main__``) that ``code``, their source, uses."""
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return []
    module_globals = getattr(function, "__globals__", {})
    found = []
    for called in called_names(tree):
        helper = module_globals.get(called)
        if (inspect.isfunction(helper) or inspect.isclass(helper)) and helper.__module__ == "__main__":
            found.append(helper)
    return found


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


def assert_without_jacobian(function: object) -> None:
    """Fail, naming what was found, if an answer builds its Jacobian with a ready-made helper
    (``torch.autograd.functional.jacobian``, ``torch.func.jacrev``, ``vmap``, …) instead of
    ``torch.autograd.grad`` row by row.

    This copy reads the function's source in the kernel (and under stock ``nbgrader autograde``); under
    ``course grade`` the judge binds its own, which reads the submitted cells outside the student's
    process (:meth:`autograder.grading.judge.Judge.assert_without_jacobian`)."""
    __tracebackhide__ = True
    from .checker import CheckFailed
    from .messages import render

    name, cells = _kernel_sources(function)
    defined, findings = check_sources(name, cells, rule=_jacobian_findings)
    if findings:
        found = ", ".join(map(str, findings[:5]))
        raise CheckFailed("\n" + render("jacobian_helper_used", name=name, found=found))
