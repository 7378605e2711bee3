"""Packaging: pyproject and environment.yml agree; the README's two commands are what CI and users run."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_command(marker: str) -> str:
    """The shell command in the fenced block right after ``<!-- marker -->`` in the README."""
    match = re.search(rf"<!-- {marker} -->\s*```(?:bash|sh)\n(.+?)\n```", README, re.S)
    assert match, f"README.md has no block marked <!-- {marker} -->"
    return match.group(1).strip()


def test_environment_yml_declares_the_same_dependencies():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    declared = set(PYPROJECT["project"]["dependencies"]) | set(
        PYPROJECT["project"]["optional-dependencies"]["test"]
    )
    conda_pip = {r for r in pip_section if r not in ("-e .", "torch==2.13.0")}
    assert conda_pip == declared, (
        f"only in environment.yml: {conda_pip - declared}; only in pyproject: {declared - conda_pip}"
    )
    assert "-e ." in pip_section


def test_torch_requirement_admits_the_cpu_build():
    torch_req = [r for r in PYPROJECT["project"]["dependencies"] if r.startswith("torch")]
    assert torch_req == ["torch>=2.4,<3"]


def test_readme_opens_with_the_two_commands():
    start, test = readme_command("start-command"), readme_command("test-command")
    assert "course lab" in start and "torch==2.13.0" in start
    assert "pytest" in test and "torch==2.13.0" in test
    assert README.index("start-command") < 1500, "the two commands come first in the README"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci, ".ci/run must take its test command from the README"
    assert ci.index("torch==2.13.0") < ci.index("test-command")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_course_lab_serves_the_course_on_localhost(tmp_path):
    """The README's start command (`course lab`) starts a real JupyterLab that lists the lectures."""
    port, token = free_port(), "course-test-token"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "--root",
            str(ROOT),
            "lab",
            "--port",
            str(port),
            "--lang",
            "ko",
            "--no-browser",
            f"--IdentityProvider.token={token}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        listing = None
        for _ in range(120):
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/contents/notebooks/ko",
                    headers={"Authorization": f"token {token}"},
                )
                with urllib.request.urlopen(request, timeout=2) as response:
                    listing = response.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 60 s"
        assert "unit01_computation_graphs.ipynb" in listing
        children = (
            (Path("/proc") / str(server.pid) / "task" / str(server.pid) / "children").read_text().split()
        )
        environ = (Path("/proc") / children[0] / "environ").read_bytes().split(b"\0")
        assert b"COURSE_LANG=ko" in environ, "`course lab --lang ko` must hand the language to the kernels"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as response:
            assert response.status == 200 and "JupyterLab" in response.read().decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_readme_start_command_as_written(tmp_path):
    """The README's first command, run verbatim in the course root, serves JupyterLab on 127.0.0.1:8888."""
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8888)) == 0:
            pytest.fail("port 8888 is taken: the README's command could not be tested as written")
    shell = subprocess.Popen(
        ["bash", "-c", readme_command("start-command")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        status = None
        for _ in range(240):
            try:
                with urllib.request.urlopen("http://127.0.0.1:8888/api/status", timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as refused:  # 403 without a token: the server is up
                status = refused.code
            except OSError:
                assert shell.poll() is None, shell.stdout.read().decode()
                time.sleep(0.5)
                continue
            break
        assert status in (200, 403), "nothing answered on 127.0.0.1:8888 within 120 s"
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.wait(timeout=30)


def test_readme_images_exist():
    """Every image the README shows is in the repository (screenshots come from the browser test)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme)
    assert images, "the README shows screenshots"
    for image in images:
        path = ROOT / image
        assert path.is_file(), image
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{image} is not a PNG"


def test_lab_without_jupyterlab_says_how_to_install_it():
    """No JupyterLab: one line in both languages, no traceback (``jupyterlab`` hidden from imports)."""
    code = (
        "import sys; sys.modules['jupyterlab'] = None\n"
        "from autograder.cli import main\n"
        "sys.exit(main(['lab']))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "JupyterLab" in done.stderr and "설치" in done.stderr and "Traceback" not in done.stderr
