"""Grade one class three ways on this machine, in the same run, and print the times side by side.

1. stock ``nbgrader autograde`` (one notebook after another, in a Jupyter kernel);
2. ``course grade`` (sandboxed, every core), each submission a worker forked from its slot's warm
   template (torch imported once per core);
3. ``course grade`` with ``COURSE_WARM_TEMPLATES=0``: one new sandbox, and one torch import, per
   submission (how it graded before the templates);
4. the floor: plain ``python`` running the same code cells of every submission, as many at once as
   there are cores, with no grading at all (a new Python, and a torch import, per submission).

The class: 40 submissions of one assignment, mixed: correct, wrong in various ways, blank, broken.
It prints the times, the throughput ratios against stock nbgrader (target ≥ 8× for 40 submissions, and
no slower than stock for one: ``--size 1``), and whether the graders give the same score to every
ordinary submission.

    python benchmarks/grading_speed.py [--assignment unit01] [--size 40] [--jobs N]
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent


def solutions(assignment: str) -> tuple[dict, dict]:
    source = nbformat.read(ROOT / "source" / assignment / "exercises.ipynb", as_version=4)
    release = nbformat.read(ROOT / "release" / assignment / "exercises.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    return answers, release


def answered(release, answers: dict, change=None):
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
            if change:
                cell.source = change(meta["grade_id"], cell.source)
    return nb


def make_class(folder: Path, assignment: str, size: int) -> dict[str, str]:
    """Submissions in ``folder/submitted``; returns each student's kind (ordinary ones are compared)."""
    answers, release = solutions(assignment)
    rng = random.Random(0)
    ids = list(answers)

    def flip(gid, code, target):
        return code.replace("return ", "return -1 * ", 1) if gid == target else code

    def double(gid, code, target):
        return code.replace("return ", "return 2 * ", 1) if gid == target else code

    kinds = {}
    for i in range(size):
        name = f"s{i:02d}"
        roll = i % 10
        if roll < 6:
            nb, kind = answered(release, answers), "correct"
        elif roll < 8:
            target = rng.choice(ids)
            how = flip if roll == 6 else double
            nb, kind = answered(release, answers, lambda g, c, t=target, h=how: h(g, c, t)), "wrong"
        elif roll == 8:
            nb, kind = nbformat.from_dict(json.loads(json.dumps(release))), "blank"
        else:
            nb = answered(release, answers)
            nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != ids[1]]
            kind = "broken"
        target = folder / "submitted" / name / assignment
        target.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target / "exercises.ipynb")
        kinds[name] = kind
    return kinds


def new_course(folder: Path, assignment: str) -> None:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "source", folder / "source")
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=ERROR"],
        cwd=folder,
        check=True,
    )


def scores(folder: Path, assignment: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(assignment)}


def timed(command: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def plain_script(path: Path) -> str:
    """The notebook's code cells as one script, each cell's error caught (no grading, no kernel)."""
    nb = nbformat.read(path, as_version=4)
    parts = ["import traceback"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            code = f"exec(compile({cell.source!r}, 'cell', 'exec'))"
            parts.append(f"try:\n    {code}\nexcept BaseException:\n    pass")
    return "\n".join(parts)


def floor(folder: Path, assignment: str, jobs: int) -> float:
    # The sources' code cells with each student's answers: what any grader must at least execute.
    scripts = []
    for nb_path in sorted(folder.glob(f"submitted/*/{assignment}/*.ipynb")):
        script = nb_path.with_suffix(".py")
        script.write_text(plain_script(nb_path))
        scripts.append(script)
    start = time.perf_counter()
    with futures.ThreadPoolExecutor(jobs) as pool:
        # one thread per process, as the grader's workers use: the fastest way to fill every core
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        run = lambda s: subprocess.run([sys.executable, str(s)], capture_output=True, cwd=s.parent, env=env)  # noqa: E731
        list(pool.map(run, scripts))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--assignment", default="unit01")
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    try:
        stock, ours, cold, plain = work / "stock", work / "ours", work / "cold", work / "plain"
        for folder in (stock, ours, cold, plain):
            new_course(folder, args.assignment)
            kinds = make_class(folder, args.assignment, args.size)
        print(
            f"class: {args.size} submissions of {args.assignment}: "
            + ", ".join(f"{k} {list(kinds.values()).count(k)}" for k in sorted(set(kinds.values())))
            + f"; {args.jobs} cores"
        )
        t_floor = floor(plain, args.assignment, args.jobs)
        ours_command = [sys.executable, "-m", "autograder.cli", "grade", args.assignment]
        ours_command += ["--jobs", str(args.jobs)]
        t_ours = timed(ours_command, ours)
        t_cold = timed(ours_command, cold, {"COURSE_WARM_TEMPLATES": "0"})
        stock_command = [sys.executable, "-m", "nbgrader", "autograde", args.assignment, "--log-level=ERROR"]
        t_stock = timed(stock_command, stock)
        s_stock, s_ours = scores(stock, args.assignment), scores(ours, args.assignment)
        s_cold = scores(cold, args.assignment)
        ordinary = [n for n, k in kinds.items() if k in ("correct", "wrong", "blank")]
        disagree = {
            n: (s_stock.get(n), s_ours.get(n), s_cold.get(n))
            for n in ordinary
            if not s_stock.get(n) == s_ours.get(n) == s_cold.get(n)
        }
        for label, seconds in (
            ("stock nbgrader autograde", t_stock),
            ("course grade (warm templates)", t_ours),
            ("course grade (a sandbox each)", t_cold),
            ("floor: plain python, parallel", t_floor),
        ):
            print(f"{label:34s} {seconds:7.1f} s  {args.size / seconds:5.2f} submissions/s")
        target = "target >= 8x" if args.size >= 40 else "target >= 1x"
        print(f"warm templates vs stock nbgrader: {t_stock / t_ours:.2f}x   ({target})")
        print(f"a sandbox each vs stock nbgrader: {t_stock / t_cold:.2f}x")
        print(f"warm templates vs the floor:      {t_floor / t_ours:.2f}x faster")
        print(
            f"scores agree (stock, warm, a sandbox each) on {len(ordinary) - len(disagree)}/{len(ordinary)}"
            " ordinary submissions" + (f"; differ: {disagree}" if disagree else "")
        )
        broken = {n: (s_stock.get(n), s_ours.get(n), s_cold.get(n)) for n in kinds if kinds[n] == "broken"}
        print(f"broken submissions (stock, warm, a sandbox each): {broken}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
