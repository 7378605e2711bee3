"""How long a student waits for ``course check``, against a bare ``python -c "import torch"`` run beside it.

On a solved copy of one assignment, in the same run and on the same machine, median of ``--repeat``:

1. the baseline: ``python -c "import torch"``;
2. ``course check NOTEBOOK``: the worker is a fork of the checking process, torch imported once;
3. the same with ``COURSE_WARM_TEMPLATES=0``: the worker a new Python, torch imported twice;
4. ``show()`` from a kernel that has imported torch and run the notebook's setup cell, as a student's
   kernel has (JupyterLab's kernel, started with jupyter_client).

Targets (issue 23): ``course check`` within 1.5× the baseline, ``show()`` in a warm kernel ≤ 1.5 s.

    python benchmarks/check_speed.py [--assignment unit01] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parent.parent


def solved(assignment: str, folder: Path) -> Path:
    """The release with the source's answers in its solution cells."""
    source = nbformat.read(ROOT / "source" / assignment / "exercises.ipynb", as_version=4)
    release = nbformat.read(ROOT / "release" / assignment / "exercises.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if c.metadata.get("nbgrader")
    }
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    shutil.copytree(ROOT / "release" / assignment, folder, dirs_exist_ok=True)
    path = folder / "exercises.ipynb"
    nbformat.write(release, path)
    return path


def seconds(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return took


def in_kernel(path: Path, repeat: int) -> list[float]:
    """``show()`` timed inside a kernel that is already warm (torch and the checker imported)."""
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
    try:
        setup = "import torch, autograder\nfrom autograder.selfcheck import show\n"

        def run(code: str) -> str:
            reply = client.execute_interactive(code, timeout=300, output_hook=lambda m: None)
            if reply["content"]["status"] != "ok":
                raise SystemExit(f"kernel: {reply['content']}")
            return reply

        run(setup)
        timing = (
            "import time, json, contextlib, io\n"
            "t = time.perf_counter()\n"
            f"with contextlib.redirect_stdout(io.StringIO()): show({str(path)!r})\n"
            "took = time.perf_counter() - t\n"
        )
        times = []
        for _ in range(repeat):
            run(timing)
            reply = client.execute_interactive(
                "print(json.dumps(took))", timeout=60, output_hook=lambda m: times.append(m)
            )
            assert reply["content"]["status"] == "ok"
        return [json.loads(m["content"]["text"]) for m in times if m["msg_type"] == "stream"]
    finally:
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--assignment", default="unit01")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="check-bench-"))
    try:
        path = solved(args.assignment, work / args.assignment)
        check = [sys.executable, "-m", "autograder.cli", "check", str(path)]
        base, warm, cold = [], [], []
        for _ in range(args.repeat):  # interleaved, so a busy moment costs each the same
            base.append(seconds([sys.executable, "-c", "import torch"]))
            warm.append(seconds(check))
            cold.append(seconds(check, {"COURSE_WARM_TEMPLATES": "0"}))
        shown = in_kernel(path, args.repeat)
        b, w, c, s = (statistics.median(x) for x in (base, warm, cold, shown))
        print(f"{args.assignment}, solved; median of {args.repeat}")
        print(f"python -c 'import torch'             {b:6.2f} s")
        print(
            f"course check (worker forked)         {w:6.2f} s   {w / b:4.2f}x the baseline (target <= 1.5x)"
        )
        print(f"course check (worker a new python)   {c:6.2f} s   {c / b:4.2f}x the baseline")
        print(f"show() in a warm kernel              {s:6.2f} s   (target <= 1.5 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
