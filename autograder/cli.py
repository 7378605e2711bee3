"""The ``course`` command: build the course, release an assignment in one language, start JupyterLab.

course build            rebuild every generated file (lectures ko/en, figures, releases)
course build --check    rebuild into a temporary folder; fail, naming the files, if anything differs
course release unit01 --lang ko [--output DIR]
course lab [--port 8888] [--lang ko|en]   start JupyterLab on the course (127.0.0.1)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .course import Course, CourseError
from .messages import render


def _progress(text: str) -> None:
    print(f"  · {text}", file=sys.stderr, flush=True)


def cmd_build(args: argparse.Namespace) -> int:
    from . import build

    course = Course.find(args.root)
    if args.check:
        report = build.stale(course, _progress)
        if report:
            print(render("cli_build_stale", count=len(report), files="\n".join(report)))
            return 1
        print(render("cli_build_done", count=len(build.generated_files(course.root))))
        return 0
    count = build.sync(course, _progress)
    print(render("cli_build_done", count=count))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .build import build_release

    course = Course.find(args.root)
    output = Path(args.output) if args.output else course.release
    target = build_release(course, args.assignment, output, args.lang)
    print(render("cli_release_done", lang=args.lang, path=str(target)))
    return 0


def cmd_lab(args: argparse.Namespace, extra: list[str]) -> int:
    course = Course.find(args.root)
    if importlib.util.find_spec("jupyterlab") is None:
        raise CourseError("cli_no_jupyterlab")
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={course.root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={args.port}",
        "--LabApp.default_url=/lab/tree/notebooks",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root
    env = dict(os.environ)
    if args.lang:
        env["COURSE_LANG"] = args.lang  # kernels inherit it: the checker then speaks one language
    try:
        return subprocess.call([*command, *extra], env=env)
    except KeyboardInterrupt:
        return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="course", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    top.add_argument("--root", help="the course folder (default: found from the current folder)")
    sub = top.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="rebuild generated files (lectures ko/en, figures, releases)")
    b.add_argument(
        "--check", action="store_true", help="fail, naming the files, if a committed file is stale"
    )

    r = sub.add_parser("release", help="write the student version of one assignment, in one language or both")
    r.add_argument("assignment")
    r.add_argument("--lang", choices=["ko", "en", "both"], default="both")
    r.add_argument("--output", help="folder to write <assignment>/ into (default: the course's release/)")

    lab = sub.add_parser("lab", help="start JupyterLab on the course, on 127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument(
        "--lang", choices=["ko", "en"], help="the language of the checker's messages (default: both)"
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and args.command != "lab":
        parser().error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.command == "build":
            return cmd_build(args)
        if args.command == "release":
            return cmd_release(args)
        return cmd_lab(args, extra)
    except CourseError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
