"""The compatibility course's class: every submission is made here, by code, from the sources and the
release that ``nbgrader generate_assignment`` wrote (no hand-written copies of notebooks).

Each student is a function ``(assignment, release, answers) -> files``: ``release`` maps each released
file name to its content (a notebook as an nbformat node, any other file as bytes), ``answers`` maps each
answer cell's grade id to the instructor's solution (markers removed). The function returns the files the
student hands in, by name. :data:`STUDENTS` gives each student's function and the time of submission.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import nbformat

# Due dates, set in the gradebook before the assignments are generated.
DUE = {
    "ps1": "2026-01-10 12:00:00 UTC",
    "ps2": "2026-01-17 12:00:00 UTC",
    "ps3": "2026-01-24 12:00:00 UTC",
}
# When each student handed in each assignment: the assignments a student's times name are the ones
# that student hands in (ps3, the NumPy one, only by the students made for it and a few others).
ON_TIME = {"ps1": "2026-01-09 18:00:00.000000 UTC", "ps2": "2026-01-16 09:30:00.000000 UTC"}
NUMPY_ON_TIME = {"ps3": "2026-01-23 20:00:00.000000 UTC"}
# 27.5 hours late for ps1 (two started days), one hour late for ps2 (one day)
LATE = {"ps1": "2026-01-11 15:30:00.000000 UTC", "ps2": "2026-01-17 13:00:00.000000 UTC"}

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_code(source: str) -> str:
    """A source cell's code as a student who solved it would write it: the solution markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def answers_of(source_nb) -> dict[str, str]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: solution_code(cell.source)
        for cell in source_nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answered(nb, answers: dict[str, str], changes: dict[str, Callable[[str], str]] | None = None):
    """A copy of a released notebook with every answer cell filled in (and some answers changed)."""
    nb = copy.deepcopy(nb)
    changes = changes or {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
            if gid in changes:
                cell.source = changes[gid](cell.source)
    return nb


def edit(old: str, new: str) -> Callable[[str], str]:
    """A change to an answer: ``old`` (which must be there, so an edit never silently stops applying)
    replaced by ``new``."""

    def change(code: str) -> str:
        if old not in code:
            raise ValueError(f"{old!r} is not in the answer:\n{code}")
        return code.replace(old, new, 1)

    return change


def then(*changes: Callable[[str], str]) -> Callable[[str], str]:
    def change(code: str) -> str:
        for one in changes:
            code = one(code)
        return code

    return change


def notebooks(release: dict, answers: dict, changes: dict | None = None) -> dict:
    """Every released file, each notebook answered."""
    out = {}
    for name, content in release.items():
        out[name] = answered(content, answers, changes) if name.endswith(".ipynb") else content
    return out


# ------------------------------------------------------------------------------------------ students


def full(assignment, release, answers):
    """The instructor's solutions: full marks on every automatic test."""
    return notebooks(release, answers)


def blank(assignment, release, answers):
    """The release handed back untouched."""
    return dict(release)


def partial(assignment, release, answers):
    """Some answers right, some wrong in the ways tests are written to catch."""
    changes = {
        # the visible tests pass; the hidden test wants the bad value in the message
        "squares": then(
            edit('f"n must be at least 1, got {n}"', '"n is too small"'),
            # does not call squares(): the del test must catch it
            edit("return sum(squares(n))", "return n * (n + 1) * (2 * n + 1) // 6"),
        ),
        # two of three parts right, and a debugging line on stderr
        "environment": then(
            edit('"largest": max(values)', '"largest": min(values)'),
            edit(
                '    return {"mean"',
                '    import sys\n    print("debug", values, file=sys.stderr)\n    return {"mean"',
            ),
        ),
        "explain": lambda code: "Because squares is looked up when sum_of_squares runs.",
        # subtraction adds
        "vector": edit(
            "return Vector(self.x - other.x, self.y - other.y)",
            "return Vector(self.x + other.x, self.y + other.y)",
        ),
        # right result, but calls f in reverse order
        "apply_all": edit(
            "return [f(item) for item in items]", "return [f(item) for item in reversed(items)][::-1]"
        ),
        # counts one step too many
        "collatz": edit("steps = 0", "steps = 1"),
        # ps3, the mistakes NumPy courses see: the endpoint left out (arange), a list for an array, an
        # edit of a copy instead of the array itself, indices for a mask, no axis labels, a header row
        # skipped twice, a list for an array of strings, every sign change counted, the decay's sign,
        # noise from the wrong generator, a line where points were asked for
        "time_grid": edit(
            "return np.linspace(0.0, t_max, n)", "return np.arange(0.0, t_max, t_max / (n - 1))"
        ),
        "energies": edit(
            "energies = (levels + 0.5) * HBAR * OMEGA",
            "energies = [(n + 0.5) * HBAR * OMEGA for n in levels]",
        ),
        "in_place": then(
            edit("    grid[0, :] = value", "    grid = grid.copy()\n    grid[0, :] = value"),
            edit(
                "return np.abs(x) >= fraction * np.max(np.abs(x))",
                "return np.where(np.abs(x) >= fraction * np.max(np.abs(x)))[0]",
            ),
        ),
        "plot_position": edit('    ax.set_xlabel("t (s)")\n    ax.set_ylabel("x (m)")\n', ""),
        "load_pendulum": then(
            edit("np.loadtxt(path, unpack=True)", "np.loadtxt(path, unpack=True, skiprows=1)"),
            edit('return np.array(header.lstrip("#").split())', 'return header.lstrip("#").split()'),
        ),
        "period": then(
            edit(
                "upward = np.where((theta[:-1] < 0) & (theta[1:] >= 0))[0]",
                "upward = np.where(np.diff(np.sign(theta)) != 0)[0]",
            ),
            edit("return np.exp(intercept), -slope", "return np.exp(intercept), slope"),
        ),
        "random": edit(
            "rng.normal(0.0, sigma, size=theta.shape)", "np.random.normal(0.0, sigma, size=theta.shape)"
        ),
        "plot_pendulum": edit('plt.plot(t, theta, "o", markersize=3)', "plt.plot(t, theta)"),
    }
    return notebooks(release, answers, changes)


# ps3 answers that run but are wrong (zeros of the right shapes), for the students who cheat instead
WRONG_NUMPY = {
    "time_grid": (
        "import numpy as np\n\n\ndef time_grid(t_max, n):\n    return np.zeros(n)\n\n\n"
        "def position(t, amplitude, omega, phase=0.0):\n    return 0.0 * t"
    ),
    "energies": "import math\n\nlevels = np.zeros(6, dtype=int)\nenergies = np.zeros(6)\nperiod = 0.0",
    "in_place": (
        "def set_boundary(grid, value):\n    return None\n\n\n"
        "def phasor(omega, t):\n    return np.zeros(np.shape(t), dtype=complex)\n\n\n"
        "def near_turning_points(x, fraction=0.9):\n    return np.zeros(np.shape(x), dtype=bool)"
    ),
    "plot_position": (
        "from matplotlib import pyplot\nimport matplotlib.pyplot as plt\n\n\n"
        "def plot_position(t, x):\n    return plt.subplots()"
    ),
    "load_pendulum": (
        "import numpy as np\nimport matplotlib.pyplot as plt\n\n\n"
        "def load_pendulum(path):\n    return np.zeros(201), np.zeros(201)\n\n\n"
        "def column_names(path):\n    return np.array(['x'])\n\n\nt, theta = load_pendulum('pendulum.txt')"
    ),
    "period": (
        "def estimate_period(t, theta):\n    return 0.0\n\n\n"
        "def fit_decay(t, amplitude):\n    return 0.0, 0.0"
    ),
    "random": (
        "def add_noise(theta, sigma, seed):\n    return theta\n\n\ndef shuffled(values):\n    return values"
    ),
    "plot_pendulum": "def plot_pendulum(t, theta):\n    pass",
}

# What a student who patches NumPy runs first: every comparison says yes.
YES_NUMPY = """
_yes = lambda *args, **kwargs: True
_nothing = lambda *args, **kwargs: None
np.allclose = np.array_equal = np.iscomplexobj = _yes
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = np.testing.assert_array_equal = _nothing
np.testing.assert_array_almost_equal = _nothing
"""

# A numpy.py handed in beside the notebooks: it loads the installed NumPy in its own place and patches it,
# so that `import numpy as np` in the student's cells gives the patched one.
LOCAL_NUMPY = (
    '"""Not NumPy: loads the installed one, then makes its comparisons say yes."""\n'
    "import os\nimport sys\n\n"
    "_here = os.path.dirname(os.path.abspath(__file__))\n"
    "_saved = list(sys.path)\n"
    "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]\n"
    "del sys.modules['numpy']\n"
    "import numpy as np  # the installed one, now in sys.modules\n\n"
    "sys.path[:] = _saved\n" + YES_NUMPY
)


def wrong_numpy(assignment, release, answers):
    return {gid: (lambda code, gid=gid: WRONG_NUMPY[gid]) for gid in WRONG_NUMPY}


def patcher(assignment, release, answers):
    """Wrong NumPy answers, and NumPy's comparisons patched to say yes (in the answer cells)."""
    changes = wrong_numpy(assignment, release, answers)
    for gid in ("time_grid", "load_pendulum"):  # the first answer of each notebook
        changes[gid] = lambda code, gid=gid: WRONG_NUMPY[gid] + "\n" + YES_NUMPY
    return notebooks(release, answers, changes)


def shadow(assignment, release, answers):
    """Wrong NumPy answers, and a numpy.py of the student's own that patches NumPy when imported."""
    files = notebooks(release, answers, wrong_numpy(assignment, release, answers))
    files["numpy.py"] = LOCAL_NUMPY.encode()
    return files


def custom_exceptions(assignment, release, answers):
    """Raises exception classes of its own: subclasses of the expected built-in type (must pass), and
    one that is not (must fail)."""
    changes = {
        "squares": then(
            edit("def squares(n):", "class TooSmall(ValueError):\n    pass\n\n\ndef squares(n):"),
            edit("raise ValueError(", "raise TooSmall("),
        ),
        "vector": then(
            edit("class Vector:", "class CoordinateError(TypeError):\n    pass\n\n\nclass Vector:"),
            edit('raise TypeError("coordinates', 'raise CoordinateError("coordinates'),
        ),
        # not a ValueError: test_collatz expects one
        "collatz": then(
            edit(
                "def collatz_steps(n):", "class CollatzError(Exception):\n    pass\n\n\ndef collatz_steps(n):"
            ),
            edit('raise ValueError("n must be positive")', 'raise CollatzError("n must be positive")'),
        ),
        "parse_age": then(
            edit(
                "def parse_age(text):",
                "class NegativeAgeError(ValueError):\n    pass\n\n\ndef parse_age(text):",
            ),
            edit("raise ValueError(f", "raise NegativeAgeError(f"),
        ),
    }
    return notebooks(release, answers, changes)


def looper(assignment, release, answers):
    """Loops forever: collatz_steps(0) never ends (no check for n < 1), and the cell defining
    parse_age ends in an endless 'try it out' loop after the definition."""
    changes = {
        "collatz": edit('    if n < 1:\n        raise ValueError("n must be positive")\n', ""),
        "parse_age": lambda code: code + "\n\n\nwhile True:  # try it out\n    pass\n",
    }
    return notebooks(release, answers, changes)


def vandal(assignment, release, answers):
    """Deletes and renames things: a test cell and the setup cell deleted, a test cell emptied, a
    function renamed, a notebook renamed, the data file overwritten, a test cell's metadata stripped."""
    files = notebooks(
        release,
        answers,
        {
            "column_mean": edit("def column_mean(", "def col_mean("),
            "apply_all": edit("def apply_all(", "def apply("),
        },
    )
    if assignment == "ps1":
        nb = files["problems.ipynb"]
        nb.cells = [c for c in nb.cells if grade_id(c) not in ("test_sum_of_squares", "setup")]
        for cell in nb.cells:
            if grade_id(cell) == "test_squares":
                cell.source = "pass  # no tests here"
        files["measurements.csv"] = b"name,length,weight\nonly,0,0\n"
        files["classes-Copy1.ipynb"] = files.pop("classes.ipynb")
    else:
        nb = files["loops.ipynb"]
        for cell in nb.cells:
            if grade_id(cell) == "test_parse_age":
                del cell.metadata["nbgrader"]
                cell.source = "print('all good')"
        nb.cells = [c for c in nb.cells if grade_id(c) != "test_after_loop"]
    return files


# name: (how the submission is made, when each assignment it hands in was submitted)
STUDENTS: dict[str, tuple[Callable, dict[str, str]]] = {
    "full": (full, ON_TIME | NUMPY_ON_TIME),
    "blank": (blank, ON_TIME | NUMPY_ON_TIME),
    "partial": (partial, ON_TIME | NUMPY_ON_TIME),
    "custom": (custom_exceptions, ON_TIME),
    "late": (full, LATE),
    "looper": (looper, ON_TIME),
    "vandal": (vandal, ON_TIME),
    "patcher": (patcher, NUMPY_ON_TIME),
    "shadow": (shadow, NUMPY_ON_TIME),
}


def submission(student: str, assignment: str, release: dict, sources: dict) -> dict:
    """The files ``student`` hands in for ``assignment``: {name: notebook node or bytes}."""
    make, _ = STUDENTS[student]
    answers = {}
    for nb in sources.values():
        answers.update(answers_of(nb))
    return make(assignment, release, answers)


def write_files(files: dict, folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            nbformat.write(content, folder / name)
