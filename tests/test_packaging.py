"""The package: ``python -m nmt`` lists the commands pyproject installs, each answers
``--version``; a built wheel installed into a fresh venv finds the shipped models (slow)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tomllib

import pytest
from conftest import REPO

import nmt
from nmt.__main__ import COMMANDS, main


def test_python_m_nmt_lists_the_installed_commands(capsys):
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {name: target.split(":")[0] for name, target in scripts.items()} == {
        name: module for name, (module, _) in COMMANDS.items()
    }
    assert main([]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in COMMANDS) and nmt.__version__ in listed
    assert main(["nope"]) == 2


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_answers_version(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"lstm-nmt {nmt.__version__}"


def test_models_dir_env_adds_a_folder_before_the_shipped_models(tmp_path, monkeypatch):
    from nmt.checkpoint import SHIPPED_DIR, CheckpointError, model_names, resolve_run_dir

    mine = tmp_path / "models" / "mine"
    mine.mkdir(parents=True)
    (mine / "metadata.json").write_text("{}")
    monkeypatch.setenv("NMT_MODELS_DIR", str(tmp_path / "models"))
    assert resolve_run_dir("mine") == mine
    assert "mine" in model_names()
    if (SHIPPED_DIR / "en-es").is_dir():
        assert resolve_run_dir("en-es") == SHIPPED_DIR / "en-es" and "en-es" in model_names()
    with pytest.raises(CheckpointError, match=f"nor a model in {tmp_path / 'models'} or "):
        resolve_run_dir("absent")


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_installs_commands_that_find_the_shipped_models(tmp_path):
    """pip wheel -> a venv made with --system-site-packages -> pip install --no-deps; the
    commands run from another folder. A venv made by a venv's python sees the base
    interpreter's site-packages, not the venv's: a .pth file adds this interpreter's, so that
    TensorFlow is not downloaded again."""
    # built from a copy: pip builds in the source tree, whose build/ would keep stale files
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("nmt", "corpora", "checkpoints"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path / "dist"), str(source)]
    )
    (wheel,) = (tmp_path / "dist").glob("lstm_nmt-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    venv_site = purelib.stdout.strip()
    own = [p for p in site.getsitepackages() if os.path.isdir(p)]
    with open(os.path.join(venv_site, "project_site.pth"), "w", encoding="utf-8") as pth:
        pth.write("".join(p + "\n" for p in own))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ]
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NMT_MODELS_DIR")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    bin_dir = venv / "bin"
    where = _run([python, "-c", "import nmt; print(nmt.__file__)"], cwd=elsewhere, env=env)
    assert where.stdout.startswith(venv_site)
    for name in COMMANDS:
        version = _run([bin_dir / name, "--version"], cwd=elsewhere, env=env)
        assert version.stdout.strip() == f"lstm-nmt {nmt.__version__}"
    lines = "How are you?\nThe weather is nice today.\n"
    translated = _run([bin_dir / "nmt-translate", "-q"], input=lines, cwd=elsewhere, env=env)
    from_checkout = _run([sys.executable, "translate.py", "-q"], input=lines, cwd=REPO, env=env)
    assert translated.stdout == from_checkout.stdout and len(translated.stdout.splitlines()) == 2
