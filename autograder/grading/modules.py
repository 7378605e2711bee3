"""Which of the student's modules a test gets as the grader's own, and which stay the student's.

A module in the student's namespace (``import numpy as np`` in an answer cell) crosses the wall as its
name, the worker's handle to it, and the worker's word on whether it is what a plain ``import`` gives
from the installed Python (:func:`reported`). The grader decides (:meth:`.remote.Table.module`):

- **The grader's own module**, when the grader imports that name itself from its own Python: the
  standard library, site-packages, or this package (:func:`grader_module`; never from the submission's
  folder or the current folder). So ``np.arange`` and ``np.pi`` work in a test, ``np.allclose`` and
  ``np.testing`` are the grader's (a student who patched them in their own process changed nothing
  here), and two names for one module are one object.
- **The student's, through a handle**, when the grader cannot import the name (a module the submission
  brings, ``mymodule.py`` next to the notebook): its functions run in the sandbox. So does pyplot
  (:data:`STUDENT_STATE`), whose state is the student's drawing: a test's ``plt.gca()`` reads the
  student's current figure, as under nbgrader (and ``id(pyplot) == id(plt)`` still holds: one module,
  one handle).
- **Neither**, when the grader could import the name but the module in the student's process is not that
  one: the submission brings a file or folder of that top-level name (``numpy.py``), or the worker says
  so. Then the name is a :class:`ShadowedModule`, and a test that uses it fails saying why: the
  submission's ``numpy.py`` is not taken for numpy (the tests would get the real one for a file that may
  be the student's own work), nor trusted as numpy (its ``allclose`` would judge the student).

Why the worker's word cannot earn anything: the sandbox sees the same installed Python, read-only, so a
student could always have had the real module by importing it; a worker that lies "installed" gets the
grader's clean module (what ``import`` would have given), and one that lies "the submission's" gets a
failing test. The module's file location is never taken from the sandbox: the grader looks at its own
import and at the submission's files it holds itself.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import io
import os
import re
import site
import sys
import sysconfig
import types
from pathlib import Path

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

# Modules whose state is the student's work, not a tool of the tests': pyplot's current figure is what the
# student drew, so a test's ``plt.gca()`` must read the student's figure. They stay the student's (handles),
# like any of the student's objects; faking them fakes only the student's own drawing.
STUDENT_STATE = frozenset({"matplotlib.pyplot", "matplotlib.pylab", "pylab"})

# Top-level names the grader never imports on the student's word: the notebook itself, and modules whose
# import does something (opens a browser or a window, prints).
NEVER = frozenset({"__main__", "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"})


class ModuleShadowedError(AssertionError):
    """A test used a module name that the submission's own file hides (``numpy.py`` next to the notebook)."""


class ShadowedModule:
    """What a test gets for a student's module that hides an installed one: every use fails, saying why."""

    __slots__ = ("_course_name", "_course_message")

    def __init__(self, name: str, message: str) -> None:
        object.__setattr__(self, "_course_name", name)
        object.__setattr__(self, "_course_message", message)

    def __getattr__(self, name: str) -> object:
        raise ModuleShadowedError(object.__getattribute__(self, "_course_message"))

    def __setattr__(self, name: str, value: object) -> None:
        raise ModuleShadowedError(self._course_message)

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise ModuleShadowedError(self._course_message)

    def __repr__(self) -> str:
        return f"<module {self._course_name!r}, the submission's own (not the installed one)>"


def top(name: str) -> str:
    return name.split(".", 1)[0]


@functools.cache
def trusted_roots() -> tuple[Path, ...]:
    """Where the installed Python's modules live: the standard library, site-packages (the user's too,
    unless switched off), and this package."""
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(key)}
    roots.update(site.getsitepackages())
    if not sys.flags.no_user_site and site.ENABLE_USER_SITE:
        roots.add(site.getusersitepackages())
    roots.add(str(Path(__file__).resolve().parent.parent))  # the autograder package
    return tuple(sorted({Path(r).resolve() for r in roots if r and os.path.isabs(r)}))


def _inside(path: object, roots: tuple[Path, ...]) -> bool:
    if not isinstance(path, str) or not os.path.isabs(path):
        return False
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(root) for root in roots)


def _locations(spec_or_module: object) -> tuple[list[str], bool]:
    """The files and folders a module (or a module spec) came from, and whether it is built in."""
    spec = spec_or_module if isinstance(spec_or_module, importlib.machinery.ModuleSpec) else None
    if spec is None:
        spec = getattr(spec_or_module, "__spec__", None)
        if not isinstance(spec, importlib.machinery.ModuleSpec):
            spec = None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if origin in ("built-in", "frozen"):
        return [], True
    places = []
    for value in (origin, getattr(spec_or_module, "__file__", None)):
        if value is not None:
            places.append(value)
    search = getattr(spec, "submodule_search_locations", None) if spec is not None else None
    if search is None:
        search = getattr(spec_or_module, "__path__", None)
    if search is not None:
        try:
            places.extend(list(search)[:50])
        except Exception:  # noqa: BLE001 - a hostile __path__
            places.append(None)
    return places, False


def installed(module: object, roots: tuple[Path, ...] | None = None) -> bool:
    """Whether ``module`` (or a spec) comes from the installed Python only: built in, or every file and
    folder it was loaded from under :func:`trusted_roots` (and outside the current folder)."""
    roots = roots if roots is not None else trusted_roots()
    places, builtin = _locations(module)
    if builtin:
        return True
    if not places:
        return False  # made at run time (types.ModuleType), or a namespace with nowhere to come from
    here = Path.cwd().resolve()
    for place in places:
        if not _inside(place, roots) or Path(place).resolve().is_relative_to(here):
            return False
    return True


def reported(module: types.ModuleType) -> tuple[str, bool]:
    """In the worker: a module's name, and whether it is the submission's own rather than what
    ``import name`` gives from the installed Python. The grader believes only the second part's "own"."""
    try:
        name = module.__name__
    except Exception:  # noqa: BLE001
        name = None
    if not isinstance(name, str) or not NAME.match(name):
        return "?", True
    try:
        own = sys.modules.get(name) is not module or not installed(module)
    except Exception:  # noqa: BLE001 - a hostile module object
        own = True
    return name[:200], own


@contextlib.contextmanager
def _no_current_folder():
    """``sys.path`` without the entries that mean the current folder (the tests run in the submission's)."""
    here = Path.cwd().resolve()
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p and os.path.isabs(p) and not Path(p).resolve().is_relative_to(here)]
    try:
        yield
    finally:
        sys.path[:] = saved


def grader_module(name: object) -> types.ModuleType | None:
    """The grader's own module ``name``, imported here from the installed Python; None when it has none.

    A module already imported here is used when it came from the installed Python; another is imported
    only when its top-level package is found there, with the current folder left out of the search and
    its output swallowed."""
    if not isinstance(name, str) or len(name) > 200 or not NAME.match(name) or top(name) in NEVER:
        return None
    found = sys.modules.get(name)
    if isinstance(found, types.ModuleType):
        return found if installed(found) else None
    try:
        with _no_current_folder():
            if top(name) not in sys.modules:
                spec = importlib.util.find_spec(top(name))
                if spec is None or not installed(spec):
                    return None
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                found = importlib.import_module(name)
    except BaseException as error:  # noqa: BLE001 - not importable here: the student's (a handle)
        if isinstance(error, KeyboardInterrupt):
            raise
        return None
    return found if isinstance(found, types.ModuleType) and installed(found) else None


def local_names(folder: Path | None) -> frozenset[str]:
    """The top-level module names a folder provides (``x.py``, ``x/``, ``x.cpython-311-….so``, …): in the
    submission's folder, what ``import x`` in the student's process finds before the installed Python."""
    if folder is None:
        return frozenset()
    suffixes = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)
    names = set()
    try:
        entries = list(Path(folder).iterdir())[:10_000]
    except OSError:
        return frozenset()
    for entry in entries:
        if entry.is_dir():
            names.add(entry.name)
            continue
        for suffix in suffixes:
            if entry.name.endswith(suffix):
                names.add(entry.name[: -len(suffix)])
                break
    return frozenset(n for n in names if n.isidentifier())


# ------------------------------------------------------------------- seeding the student's random numbers

SEEDED = "__course_seeded__"


class MirrorSeeds(ast.NodeTransformer):
    """Every call of a ``….seed(…)`` or ``….manual_seed(…)`` in a test goes through ``SEEDED``, which makes
    the call and, when it seeds a global generator (:func:`mirrored_seed`), seeds the student's too."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("seed", "manual_seed"):
            call = ast.Call(ast.Name(SEEDED, ast.Load()), [func, *node.args], node.keywords)
            return ast.copy_location(call, node)
        return node


def _plain_seed(value: object) -> bool:
    return value is None or type(value) is int


def mirrored_seed(function: object, args: tuple, kwargs: dict) -> str | None:
    """The code that seeds the student's generator as ``function(*args, **kwargs)`` seeded the grader's:
    NumPy's global generator, Python's ``random``, torch's; None for any other call, or for a seed that is
    not a plain integer."""
    if not all(_plain_seed(v) for v in [*args, *kwargs.values()]) or len(args) + len(kwargs) > 2:
        return None
    if not all(isinstance(k, str) and k.isidentifier() for k in kwargs):
        return None
    targets = []
    np = sys.modules.get("numpy")
    if np is not None:
        targets.append((np.random.seed, "numpy", "numpy.random.seed"))
    stdlib_random = sys.modules.get("random")
    if stdlib_random is not None:
        targets.append((stdlib_random.seed, "random", "random.seed"))
    torch = sys.modules.get("torch")
    if torch is not None:
        targets.append((torch.manual_seed, "torch", "torch.manual_seed"))
    for known, module, call in targets:
        if function == known:
            arguments = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            # a statement that binds no name (the student's own `random` stays as it is), shows nothing
            call = call.replace(module, f"__import__({module!r})", 1)
            return f"if True:\n    {call}({', '.join(arguments)})"
    return None
