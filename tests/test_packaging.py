"""Packaging: pyproject and environment.yml agree; the README's two commands are what CI and users run."""

import json
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


def readme_command(marker: str, kinds: str = "bash|sh") -> str:
    """The shell command (or other text) in the fenced block right after ``<!-- marker -->`` in the README."""
    match = re.search(rf"<!-- {marker} -->\s*```(?:{kinds})\n(.+?)\n```", README, re.S)
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


def lab_api(port: int, token: str, path: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/lab/api/{path}", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# `course lab --lang`: JupyterLab's locale setting, and a system locale of the other language that it beats
LAB_LANGUAGES = {"ko": ("ko_KR", "en_US.UTF-8"), "en": ("en", "ko_KR.UTF-8")}


@pytest.mark.parametrize("lang", LAB_LANGUAGES)
def test_course_lab_serves_the_course_on_localhost_in_its_language(tmp_path, lang):
    """The README's start command (`course lab`) starts a real JupyterLab that lists the lectures; with
    ``--lang`` its interface language is that language (the translation plugin's default, whatever the
    system locale says) and the kernels get the checker's language."""
    locale, system_locale = LAB_LANGUAGES[lang]
    port, token = free_port(), "course-test-token"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "LANG": system_locale,
        "LC_ALL": system_locale,
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
            lang,
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
        assert f"COURSE_LANG={lang}".encode() in environ, "`course lab --lang` hands the kernels the language"
        setting = lab_api(port, token, "settings/@jupyterlab/translation-extension:plugin")
        assert setting["schema"]["properties"]["locale"]["default"] == locale
        assert not setting["settings"], "a default (the hub's way), not a setting written for the user"
        pack = lab_api(port, token, f"translations/{locale}")
        if lang == "ko":  # the language pack is installed, with JupyterLab's menus in Korean
            assert not pack["message"], pack["message"]
            assert pack["data"]["jupyterlab"]["menu\x04File"] == ["파일"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as response:
            assert response.status == 200 and "JupyterLab" in response.read().decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_readme_hub_overrides_make_korean_every_users_default(tmp_path):
    """The README's ``overrides.json`` for a hub, in a plain JupyterLab's application settings folder (the
    README's ``{sys.prefix}/share/jupyter/lab/settings/``, here a scratch folder given as
    ``--LabApp.app_settings_dir``): Korean is every user's default, and no user setting is written."""
    from jupyterlab.commands import get_app_dir

    assert Path(get_app_dir(), "settings") == Path(sys.prefix, "share", "jupyter", "lab", "settings")
    settings = tmp_path / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(readme_command("hub-overrides", "json"), encoding="utf-8")
    port, token = free_port(), "hub-test-token"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1"]
    command += [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    command += [f"--LabApp.app_settings_dir={settings}", f"--ServerApp.root_dir={tmp_path}"]
    command += ["--allow-root"] if os.geteuid() == 0 else []
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        setting = None
        for _ in range(120):
            try:
                setting = lab_api(port, token, "settings/@jupyterlab/translation-extension:plugin")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.5)
        assert setting is not None, "JupyterLab did not answer within 60 s"
        assert setting["schema"]["properties"]["locale"]["default"] == "ko_KR"
        assert not setting["settings"]
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


def test_lab_says_when_the_interface_cannot_be_in_the_language_asked(tmp_path, monkeypatch, capsys):
    """`course lab --lang` sets a default: a language the user picked in Settings → Language wins, and a
    missing language pack leaves the menus in English. Either is said, in one line, not left to guess."""
    from autograder import cli

    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path))
    cli._lab_language_notes("ko")
    assert capsys.readouterr().err == "", "nothing to say on a fresh machine"
    picked = tmp_path / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
    picked.parent.mkdir(parents=True)
    picked.write_text('{\n  // JupyterLab writes JSON5\n  "locale": "en",\n}\n', encoding="utf-8")
    cli._lab_language_notes("ko")
    said = capsys.readouterr().err
    assert "설정 → 언어" in said and "en" in said and "ko_KR" in said, said
    cli._lab_language_notes("en")
    assert capsys.readouterr().err == "", "the language picked is the one asked"
    picked.unlink()
    monkeypatch.setitem(cli.LANGUAGE_PACKS, "ko_KR", "no_such_language_pack")
    cli._lab_language_notes("ko")
    assert "pip install -e ." in capsys.readouterr().err
