"""Handles across the wall: the protocol between two handle tables, then real notebooks in the sandbox.

The first half connects a grader's table and a worker's table in one process (each message still goes
through JSON), to test the protocol's rules one at a time. The second half grades small nbgrader
notebooks with the real worker in bubblewrap, as `course grade` does.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch

from autograder.grading import modules, protocol, wire
from autograder.grading.judge import run_notebook
from autograder.grading.remote import RemoteException, RemoteObject, Table, serve_object
from autograder.grading.sandbox import Limits, Session
from tests import nbcells
from tests.nbcells import answer, notebook, setup


def json_trip(message: dict) -> dict:
    return wire.loads(wire.dumps(message))


@pytest.fixture()
def pair():
    """(grader table, worker table), each answering the other's requests through JSON."""
    grader = Table(None, grader=True)
    worker = Table(None, grader=False)
    grader.ask = lambda op, **fields: json_trip(serve_object(worker, json_trip({"op": op, **fields})))
    worker.ask = lambda op, **fields: json_trip(serve_object(grader, json_trip({"op": op, **fields})))
    return grader, worker


def student(pair, value):
    """A handle, held by the grader, to ``value`` living on the worker's side."""
    grader, worker = pair
    return grader.decode(json_trip({"v": worker.encode(value)})["v"])


class Value:
    def __init__(self, data):
        self.data = data
        self.grad = 0.0

    def __add__(self, other):
        return Value(self.data + (other.data if isinstance(other, Value) else other))

    __radd__ = __add__

    def __mul__(self, other):
        return Value(self.data * (other.data if isinstance(other, Value) else other))

    __rmul__ = __mul__

    def __neg__(self):
        return Value(-self.data)

    def double(self):
        self.grad = 2 * self.data
        return self


def test_a_student_class_is_built_and_used_through_handles(pair):
    V = student(pair, Value)
    a = V(3.0)
    assert isinstance(a, RemoteObject)
    b = 2 * a + 1
    assert b.data == 7.0 and (-b).data == -7.0
    assert b.double() is b  # the same object comes back as the same handle
    assert b.grad == 14.0
    b.grad = 0.5
    assert b.grad == 0.5


def test_plain_values_come_back_as_copies_and_objects_as_handles(pair):
    f = student(pair, lambda: {"t": torch.ones(2), "v": Value(1.0), "n": [1, 2]})
    out = f()
    assert torch.equal(out["t"], torch.ones(2)) and out["n"] == [1, 2]
    assert isinstance(out["v"], RemoteObject) and out["v"].data == 1.0


def test_builtin_exceptions_keep_their_type_and_arguments(pair):
    def raises(kind):
        raise {"value": ValueError("n must be positive"), "key": KeyError("x"), "exit": SystemExit(3)}[kind]

    f = student(pair, raises)
    with pytest.raises(ValueError, match="n must be positive") as caught:
        f("value")
    assert caught.value.__course_remote__
    with pytest.raises(KeyError) as caught:
        f("key")
    assert str(caught.value) == "'x'"
    with pytest.raises(RemoteException) as caught:  # never a real SystemExit in the grader
        f("exit")
    assert type(caught.value).__name__ == "SystemExit"


def test_other_exceptions_keep_their_name_and_builtin_base(pair):
    class MyError(LookupError):
        pass

    def raises():
        raise MyError("custom")

    f, cls = student(pair, raises), student(pair, MyError)
    with pytest.raises(cls) as caught:  # `except MyError` in a test matches the student's MyError
        f()
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, RemoteException)
    assert type(caught.value).__name__ == "MyError" and str(caught.value) == "custom"


def test_student_code_calls_back_the_tests_functions_and_objects(pair):
    def numeric_derivative(f, x, h=1e-5):
        return (f(x + h) - f(x - h)) / (2 * h)

    class Ctx:  # a test's own object, handed to student code
        def save(self, *tensors):
            self.saved = tensors

    Ctx.__module__ = "__main__"  # as for a class written in a test cell

    ctx = Ctx()
    derivative = student(pair, numeric_derivative)
    assert abs(derivative(lambda x: x**3, 2.0) - 12.0) < 1e-6
    keep = student(pair, lambda c, t: c.save(t * 2))
    keep(ctx, torch.ones(2))
    assert torch.equal(ctx.saved[0], 2 * torch.ones(2))


def test_student_code_reaches_only_public_test_defined_things(pair):
    grader, worker = pair

    def secret():
        return "hidden"

    probe = student(pair, lambda f, name: type(getattr(f, name)).__name__)
    for name in ("__globals__", "__code__", "_private"):
        with pytest.raises(AttributeError):
            probe(secret, name)

    class Holder:
        pass

    holder = Holder()
    holder.module, holder.builtin, holder.number = shutil, open, 3
    assert probe(holder, "number") == "int"
    assert probe(holder, "module") == "Opaque"  # never a module of the grader's
    assert probe(holder, "builtin") == "Opaque"  # nor a builtin such as open
    setter = student(pair, lambda f: setattr(f, "x", 1))
    with pytest.raises(AttributeError):
        setter(secret)


def test_unknown_requests_and_operators_are_refused(pair):
    grader, worker = pair
    a = student(pair, Value(1.0))
    reply = serve_object(worker, {"op": protocol.OPERATOR, "name": "system", "args": []})
    assert reply["error"]["ename"] == "WireError"
    reply = serve_object(worker, {"op": protocol.CONVERT, "target": a._course_id, "kind": "eval"})
    assert reply["error"]["ename"] == "WireError"
    reply = serve_object(worker, {"op": protocol.CALL, "target": 999, "args": []})
    assert reply["error"]["ename"] == "WireError"


def test_a_handle_from_a_replaced_process_is_refused(pair):
    grader, _ = pair
    a = student(pair, Value(1.0))
    grader.reset()
    with pytest.raises(Exception, match="restarted"):
        a.data  # noqa: B018


def test_an_always_equal_object_gains_nothing_once_turned_into_numbers(pair):
    class Liar(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    liar = student(pair, lambda: Liar(1.0))()
    assert isinstance(liar, RemoteObject)
    assert float(liar) == 1.0 and not float(liar) == 2.0


# --------------------------------------------------------------------- modules and NumPy values


def test_installed_modules_are_the_graders_own_and_pyplot_stays_the_students(pair):
    import math
    import os.path

    import matplotlib.pyplot as pyplot
    import numpy as np

    got = student(pair, lambda: (np, math, os.path, np.linalg, pyplot, pyplot))()
    assert got[0] is np and got[1] is math and got[2] is os.path and got[3] is np.linalg
    assert isinstance(got[4], RemoteObject) and got[4] is got[5]  # one module, one handle
    assert got[4].__name__ == "matplotlib.pyplot"


def test_a_module_the_submission_brings_stays_the_students(pair, tmp_path):
    import importlib.util

    (tmp_path / "shapes_of_mine.py").write_text("def area(r):\n    return 3 * r * r\n")
    spec = importlib.util.spec_from_file_location("shapes_of_mine", tmp_path / "shapes_of_mine.py")
    mine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mine)
    got = student(pair, lambda: mine)()
    assert isinstance(got, RemoteObject) and got.area(2) == 12  # run on the student's side


def test_a_module_hiding_an_installed_one_is_neither(pair):
    import types

    import numpy as np

    grader, _ = pair
    fake = types.ModuleType("numpy")  # made at run time: not what `import numpy` gives
    fake.allclose = lambda *args, **kwargs: True
    got = student(pair, lambda: fake)()
    assert isinstance(got, modules.ShadowedModule)
    with pytest.raises(modules.ModuleShadowedError, match="numpy"):
        got.allclose(1, 2)
    grader.local_modules = frozenset({"numpy"})  # the submission hands in numpy.py
    got = student(pair, lambda: np)()
    assert isinstance(got, modules.ShadowedModule)
    with pytest.raises(AssertionError, match="numpy.py|numpy"):
        got.testing.assert_allclose(1, 2)


def test_what_the_worker_says_of_a_module_earns_nothing(pair):
    import numpy as np

    grader, _ = pair
    # a worker that lies "installed" of its numpy gets the grader's clean one
    assert grader.decode({"$t": "module", "id": 5, "name": "numpy", "own": False}) is np
    # names the grader never imports on the student's word, or cannot: the student's, through handles
    for name in ("antigravity", "this", "../../etc", "shapes_nowhere", "__main__", 3):
        got = grader.decode({"$t": "module", "id": 6, "name": name, "own": False})
        assert isinstance(got, RemoteObject), name
    assert "antigravity" not in sys.modules and "this" not in sys.modules


def test_the_grader_never_imports_a_module_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "planted_module_xyz.py").write_text("import sys\nsys.planted = True\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    assert modules.grader_module("planted_module_xyz") is None
    assert not hasattr(sys, "planted") and "planted_module_xyz" not in sys.modules
    assert modules.local_names(tmp_path) == {"planted_module_xyz"}


def test_in_place_edits_of_the_tests_arrays_come_back(pair):
    def set_edges(a, value):
        a[0] = value
        a[-1] = value

    edges = student(pair, set_edges)
    a = np.zeros(5)
    assert edges(a, 2.0) is None
    assert a.tolist() == [2.0, 0.0, 0.0, 0.0, 2.0]
    grid = np.zeros((3, 4))
    edges(grid[1], 7.0)  # a view: the change reaches the array it views
    assert grid[1].tolist() == [7.0, 0.0, 0.0, 7.0] and grid[0].sum() == 0
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    edges(frozen, 1.0)
    assert frozen.sum() == 0


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __ne__(self, other):
        return np.zeros(self.shape, dtype=bool)


class Anything:
    def __eq__(self, other):
        return True


def _anythings(n):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = Anything()
    return out


@pytest.mark.parametrize("make", [lambda: np.zeros(3).view(LyingArray), lambda: _anythings(3)])
def test_an_array_with_a_lying_eq_stays_a_handle_and_equals_no_numbers(pair, make):
    x = student(pair, make)()
    assert isinstance(x, RemoteObject)
    expected = np.array([1.0, 2.0, 3.0])
    assert not (x == expected).any() and not (expected == x).any() and not np.all(x == expected)
    assert not x == 1.0 and x != 2.5
    assert type(x) is not np.ndarray and not isinstance(x, np.ndarray)
    with pytest.raises((AssertionError, TypeError)):
        np.testing.assert_array_equal(x, expected)
    with pytest.raises((AssertionError, TypeError)):
        assert np.allclose(x, expected)


def test_a_number_with_a_lying_eq_is_compared_by_its_value(pair):
    class Sneaky(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    x = student(pair, lambda: Sneaky(4.0))()
    assert isinstance(x, RemoteObject)
    assert x == 4.0 and x == np.float64(4.0) and not x == 2.0 and x != 2.0 and x < 5


# ------------------------------------------------------------------------------ real notebooks


ENGINE = """
def squares(n):
    if n < 1:
        raise ValueError("n must be positive")
    return [i * i for i in range(1, n + 1)]

def sum_of_squares(n):
    return sum(squares(n))

class Value:
    def __init__(self, data, parents=()):
        self.data, self.grad, self._prev, self._back = float(data), 0.0, parents, lambda: None
    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))
        def back():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._back = back
        return out
    __rmul__ = __mul__
    def backward(self):
        self.grad = 1.0
        self._back()

def scaled(ctx, x):
    ctx.save_for_backward(x)
    ctx.scale = 3.0
    return x * ctx.scale
"""

TESTS = {
    "exception": """try:
    squares(0)
except ValueError as e:
    assert "positive" in str(e)
else:
    raise AssertionError("no error")""",
    "files": """import os
assert open("data.txt").read().strip() == "hello"
assert os.environ.get("NBGRADER_EXECUTION") == "autograde\"""",
    "objects": """a, b = Value(2.0), Value(3.0)
c = a * b
c.backward()
assert (a.grad, b.grad, (2 * a).data) == (3.0, 2.0, 4.0)""",
    "ctx": """class Ctx:
    def save_for_backward(self, *t):
        self.saved = t
ctx = Ctx()
y = scaled(ctx, torch.tensor([1.0, 2.0]))
assert torch.equal(y, torch.tensor([3.0, 6.0])) and ctx.scale == 3.0
assert torch.equal(ctx.saved[0], torch.tensor([1.0, 2.0]))""",
    "delete": """del squares
try:
    sum_of_squares(3)
except NameError:
    pass
else:
    raise AssertionError("expected NameError")""",
    "reassign": """squares = lambda n: [1] * n
assert sum_of_squares(4) == 4""",
}


@pytest.fixture()
def submission(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "data.txt").write_text("hello\n")
    return folder


def grade(nb, folder, cell_seconds=30):
    limits = Limits(cell_seconds=cell_seconds, notebook_seconds=120)
    notes, instructor = [], []
    results = run_notebook(
        nb, lambda: Session(folder, limits=limits, sandbox=True), notes, instructor, workdir=folder
    )
    return {r.grade_id: r for r in results}, notes, instructor


@pytest.mark.grading
def test_ordinary_nbgrader_tests_pass_in_the_sandbox(submission):
    cells = [nbcells.test(code, 1, grade_id) for grade_id, code in TESTS.items()]
    nb = notebook(setup("%matplotlib inline\nimport torch"), answer(ENGINE), *cells)
    results, notes, instructor = grade(nb, submission)
    assert {k: (r.passed, r.messages) for k, r in results.items()} == {k: (True, []) for k in TESTS}
    assert notes == [] and instructor == []


@pytest.mark.grading
def test_wrong_answers_still_fail_and_say_why(submission):
    wrong = ENGINE.replace('raise ValueError("n must be positive")', "return []").replace(
        "other.grad += self.data * out.grad", "other.grad = out.grad"
    )
    nb = notebook(
        setup("import torch"),
        answer(wrong),
        nbcells.test(TESTS["exception"], 1, "exception"),
        nbcells.test(TESTS["objects"], 1, "objects"),
    )
    results, _, _ = grade(nb, submission)
    assert not results["exception"].passed and "no error" in results["exception"].messages[0]
    assert not results["objects"].passed


@pytest.mark.grading
def test_a_broken_instructor_cell_is_the_instructors_problem(submission):
    nb = notebook(
        setup("import torch\nraise RuntimeError('typo in setup')"),
        answer("def f():\n    return 1"),
        nbcells.test("assert f() == 1", 1, "uses_f"),
    )
    results, notes, instructor = grade(nb, submission)
    assert results["uses_f"].passed  # the student's answer is judged as it is
    assert instructor and "typo in setup" in instructor[0] and "setup" in instructor[0]
    assert any("not the student's doing" in n for n in notes)


@pytest.mark.grading
def test_a_name_lost_with_a_stuck_cell_says_why(submission):
    nb = notebook(
        setup("import torch"),
        answer("a = 1\nwhile True:\n    pass", grade_id="stuck"),
        answer("", grade_id="blank"),  # a blank cell after the process died must not break the judge
        nbcells.test("assert a == 1", 1, "uses_a"),
    )
    results, notes, _ = grade(nb, submission, cell_seconds=3)
    message = "\n".join(results["uses_a"].messages)
    assert "'a' is not defined" in message and "stuck" in message


@pytest.mark.grading
def test_a_name_only_a_test_defines_is_explained_as_a_deliberate_difference(submission):
    nb = notebook(
        setup("import torch"),
        answer("def uses_helper():\n    return helper() + 1"),
        nbcells.test("def helper():\n    return 1\nassert uses_helper() == 2", 1, "isolated"),
    )
    results, _, _ = grade(nb, submission)
    message = "\n".join(results["isolated"].messages)
    assert not results["isolated"].passed
    assert "NameError" in message and "deliberate difference" in message and "의도적으로" in message


@pytest.mark.grading
def test_in_place_lists_isinstance_and_files_written_by_tests(submission):
    code = (
        "class Vector:\n    def __init__(self, x):\n        self.x = x\n"
        "def append_one(items):\n    items.append(1)\n"
        "def read(name):\n    return open(name).read()"
    )
    tests = {
        "in_place": "items = [0]\nappend_one(items)\nassert items == [0, 1], items",
        "isinstance": "assert isinstance(Vector(1), Vector) and not isinstance(3, Vector)",
        "file": "open('made_by_test.txt', 'w').write('x')\nassert read('made_by_test.txt') == 'x'",
    }
    nb = notebook(setup("import torch"), answer(code), *[nbcells.test(c, 1, k) for k, c in tests.items()])
    results, _, _ = grade(nb, submission)
    assert results["in_place"].passed and results["isinstance"].passed, results
    message = "\n".join(results["file"].messages)
    assert "FileNotFoundError" in message and "deliberate difference" in message


NUMPY_ANSWER = """
import numpy as np
import math
import random
import matplotlib.pyplot as plt
from matplotlib import pyplot
from numpy import linalg as la
import shapes_of_mine


def grid(n):
    return np.linspace(0.0, 1.0, n)


def set_edges(a, value):
    a[0] = value
    a[-1] = value


def scale(frame, k):
    return frame * k


def draw(t):
    plt.plot(t, t**2, "o")


def shuffled(n):
    return np.random.permutation(n)


def draw_random():
    return random.random()


t, y = np.loadtxt("samples.txt", unpack=True)
roots = np.exp(2j * np.pi * np.arange(4) / 4)
labels = np.array(["x", "vx"])
mask = y > 1
mean = np.mean(y)
"""

NUMPY_TESTS = {
    "module": "assert np.arange(1, 10).sum() == 45 and np.pi == math.pi and la.norm([3.0, 4.0]) == 5",
    "identity": "assert id(pyplot) == id(plt)",
    "types": "x = grid(5)\nassert type(x) == np.ndarray and isinstance(x, np.ndarray)\n"
    "assert x.dtype == np.float64\nnp.testing.assert_allclose(x, [0, 0.25, 0.5, 0.75, 1])",
    "in_place": "a = np.zeros(5)\nassert set_edges(a, 2.0) is None\nassert a.tolist() == [2, 0, 0, 0, 2], a",
    "data": "assert np.isclose(t, [0, 1, 2]).all() and np.allclose(y, np.loadtxt('samples.txt')[:, 1])",
    "values": "assert np.allclose(roots**4, 1) and roots.dtype == np.complex128\n"
    "assert labels[1] == 'vx' and labels.dtype.kind == 'U'\n"
    "assert mask.dtype == bool and mask.tolist() == [False, True, True]\n"
    "assert type(mean) == np.float64 and np.isclose(mean, 7 / 3)",
    "own_module": "assert shapes_of_mine.area(2) == 12",
    "plot": "plt.close('all')\ndraw(np.arange(3.0))\nax = plt.gca()\nassert len(ax.lines) == 1\n"
    "np.testing.assert_allclose(ax.lines[0].get_ydata(), [0, 1, 4])",
    "numpy_seed": "np.random.seed(3)\nfirst = shuffled(5)\nnp.random.seed(3)\n"
    "assert (first == np.random.permutation(5)).all()",
    "random_seed": "random.seed(9)\nexpected = random.random()\nrandom.seed(9)\n"
    "assert draw_random() == expected",
    "pandas": "import pandas as pd\nframe = pd.DataFrame({'a': [1.0, 2.0], 'b': ['u', 'v']})\n"
    "pd.testing.assert_frame_equal(scale(frame[['a']], 2), pd.DataFrame({'a': [2.0, 4.0]}))",
}


def numpy_submission(folder):
    (folder / "samples.txt").write_text("# t y\n0 1\n1 2\n2 4\n")
    (folder / "shapes_of_mine.py").write_text("def area(r):\n    return 3 * r * r\n")
    return folder


@pytest.mark.grading
def test_numpy_courses_tests_pass_in_the_sandbox(submission):
    cells = [nbcells.test(code, 1, grade_id) for grade_id, code in NUMPY_TESTS.items()]
    results, notes, _ = grade(notebook(answer(NUMPY_ANSWER), *cells), numpy_submission(submission))
    assert {k: (r.passed, r.messages) for k, r in results.items()} == {k: (True, []) for k in NUMPY_TESTS}
    assert notes == []


NUMPY_CHEATS = """
import sys
import types
import numpy as np

# wrong answers
def grid(n):
    return np.zeros(n)

class Lying(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

class Anything:
    def __eq__(self, other):
        return True

def lying_grid(n):
    return np.zeros(n).view(Lying)

def anything_grid(n):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = Anything()
    return out

# NumPy patched to say yes, in the student's process
yes = lambda *args, **kwargs: True
np.allclose = np.array_equal = yes
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
# a module made up at run time, under NumPy's name
fake = types.ModuleType("numpy")
fake.allclose = yes
fake.zeros = np.zeros
"""

CHEAT_TESTS = {
    "patched_allclose": "assert np.allclose(grid(3), [1, 2, 3])",
    "patched_isclose": "assert np.isclose(grid(3), [1, 2, 3]).all()",
    "patched_testing": "np.testing.assert_allclose(grid(3), [1, 2, 3])",
    "patched_array_equal": "assert np.array_equal(grid(3), [1, 2, 3])",
    "fake_module": "assert fake.allclose(fake.zeros(3), [1, 2, 3])",
}
for _name in ("lying_grid", "anything_grid"):
    for _form, _code in {
        "type": "x = F(3)\nassert type(x) == np.ndarray",
        "eq_all": "assert (F(3) == np.array([1.0, 2.0, 3.0])).all()",
        "np_all": "assert np.all(F(3) == np.array([1.0, 2.0, 3.0]))",
        "equal": "np.testing.assert_array_equal(F(3), [1.0, 2.0, 3.0])",
        "scalar": "assert (F(3) == 1.0).all()",
    }.items():
        CHEAT_TESTS[f"{_name}_{_form}"] = _code.replace("F(", f"{_name}(")


@pytest.mark.grading
def test_numpy_patched_faked_or_lying_earns_nothing(submission):
    cells = [nbcells.test(code, 1, grade_id) for grade_id, code in CHEAT_TESTS.items()]
    results, _, _ = grade(notebook(answer(NUMPY_CHEATS), *cells), submission)
    assert {k for k, r in results.items() if r.passed} == set()
    assert "numpy" in "\n".join(results["fake_module"].messages)


@pytest.mark.grading
def test_a_numpy_py_of_the_students_own_is_not_numpy(submission):
    (submission / "numpy.py").write_text(
        "import os, sys\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        "saved = list(sys.path)\n"
        "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]\n"
        "del sys.modules['numpy']\n"
        "import numpy\n"
        "sys.path[:] = saved\n"
        "numpy.allclose = lambda *args, **kwargs: True\n"
    )
    code = "import numpy as np\n\ndef grid(n):\n    return np.zeros(n)"
    tests = {"allclose": "assert np.allclose(grid(3), [1, 2, 3])", "arange": "assert np.arange(3).sum() == 3"}
    cells = [nbcells.test(c, 1, k) for k, c in tests.items()]
    results, _, _ = grade(notebook(answer(code), *cells), submission)
    for result in results.values():
        message = "\n".join(result.messages)
        assert not result.passed and "numpy" in message and "rename" in message, message


@pytest.mark.grading
def test_a_worker_that_lies_about_its_modules_gets_the_graders_own(submission):
    code = (
        "import types\n"
        "import autograder.grading.modules as modules\n"
        "modules.reported = lambda module: ('numpy', False)  # every module 'is' the installed numpy\n"
        "np = types.ModuleType('numpy')\n"
        "np.allclose = lambda *args, **kwargs: True\n"
        "np.arange = lambda n: [7] * n\n"
        "def grid(n):\n    return [0.0] * n"
    )
    tests = {
        "allclose": "assert np.allclose(grid(3), [1, 2, 3])",
        "arange": "assert np.arange(3).tolist() == [0, 1, 2]",  # the grader's clean numpy: passes
    }
    cells = [nbcells.test(c, 1, k) for k, c in tests.items()]
    results, _, _ = grade(notebook(answer(code), *cells), submission)
    assert not results["allclose"].passed and results["arange"].passed, results


# ------------------------------------------------------------------ many objects in one request


def counted(pair):
    """The pair, with the number of requests the grader sends kept in ``sent``."""
    grader, worker = pair
    sent = []
    ask = grader.ask
    grader.ask = lambda op, **fields: (sent.append(op), ask(op, **fields))[1]
    return sent


def test_each_helper_does_what_its_loop_does_in_one_request(pair):
    from autograder.grading.remote import attribute_of_each, call_on_each, call_with_each, set_on_each

    V = student(pair, Value)
    sent = counted(pair)
    nodes = call_with_each(V, [(float(i),) for i in range(50)])
    set_on_each(nodes, "label", range(50))
    doubled = call_on_each(nodes, "double")
    assert sent == ["each"] * 3  # 50 objects made, labelled and called: three requests, not 150
    sent.clear()
    assert attribute_of_each(nodes, "data") == [float(i) for i in range(50)]
    assert attribute_of_each(nodes, "label") == list(range(50))
    assert attribute_of_each(nodes, "grad") == [2.0 * i for i in range(50)]
    assert attribute_of_each(nodes, "missing", None) == [None] * 50
    assert sent == ["each"] * 4
    assert all(d is n for d, n in zip(doubled, nodes, strict=True))  # the same objects: the same handles


def test_each_helper_raises_what_the_loop_raises_first(pair):
    from autograder.grading.remote import attribute_of_each, call_on_each

    V = student(pair, Value)
    nodes = [V(1.0), V(2.0)]
    nodes[1].grad = "not a number"
    with pytest.raises(AttributeError, match="missing"):
        attribute_of_each(nodes, "missing")
    with pytest.raises(AttributeError, match="no_such_method"):
        call_on_each(nodes, "no_such_method")
    with pytest.raises(AttributeError, match="double"):
        call_on_each([nodes[0], nodes[0].data], "double")  # a float has no double(): the loop's error


def test_each_helper_takes_the_loop_for_local_objects_and_for_arguments_changed_in_place(pair):
    from autograder.grading.remote import attribute_of_each, call_with_each, set_on_each

    sent = counted(pair)
    local = [Value(1.0), Value(2.0)]
    set_on_each(local, "grad", [0.5, 0.25])
    assert attribute_of_each(local, "grad") == [0.5, 0.25]
    assert sent == []  # nothing of the worker's: no request at all

    def fill(t):
        t.add_(1.0)
        return float(t.sum())

    F = student(pair, fill)
    tensors = [torch.zeros(2), torch.ones(2)]
    assert call_with_each(F, [(t,) for t in tensors]) == [2.0, 4.0]
    assert [t.tolist() for t in tensors] == [[1.0, 1.0], [2.0, 2.0]]  # the call's change came back to each
    assert "each" not in sent


def test_a_worker_forked_from_a_large_process_starts_and_its_memory_limit_still_binds(tmp_path):
    """Without a sandbox the worker is a fork of this process (a test run, a kernel), whose image may be
    larger than the limit by itself: the student gets the limit on top of it, and no more."""
    import mmap

    limits = Limits(cell_seconds=30, memory_bytes=1 << 30)
    reserved = mmap.mmap(-1, 2 << 30)  # this process's address space now exceeds the limit
    try:
        with Session(tmp_path, limits=limits, sandbox=False) as session:
            fits = session.request(protocol.RUN, code="block = bytearray(64 << 20)\nprint(len(block))")
            assert "error" not in fits and fits["outputs"][0]["text"] == f"{64 << 20}\n"
            too_much = session.request(protocol.RUN, code="block = bytearray(3 << 30)")
            assert too_much["error"]["ename"] == "MemoryError"
    finally:
        reserved.close()
