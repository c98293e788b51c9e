"""train.py's edges: every user mistake is one line, and nothing of the user's is overwritten."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, ctrl_c_reaches_child, tiny_overrides

from nmt.cli_train import main


def _one_error_line(capsys, pattern: str) -> None:
    err = capsys.readouterr().err
    assert pattern in err, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def _set(overrides: list[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


def test_missing_config_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, "nope.yaml: no such config file")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "0 usable pairs"),  # an empty corpus file
        (["--set", "data.max_pairs=-5"], "data.max_pairs must be >= 1"),
    ],
)
def test_bad_corpus_or_config_leaves_nothing_behind(tmp_path, capsys, extra, message):
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    run = tmp_path / "run"
    assert main([*_set(tiny_overrides(empty)), "--out", str(run), *extra]) == 2
    _one_error_line(capsys, message)
    assert not run.exists()  # created by this command, removed again: the fix can be rerun


def test_out_folder_of_other_files_is_refused(reverse_corpus, tmp_path, capsys):
    users = tmp_path / "home"
    users.mkdir()
    (users / "thesis.tex").write_text("mine", encoding="utf-8")
    assert main([*_set(tiny_overrides(reverse_corpus)), "--out", str(users)]) == 2
    _one_error_line(capsys, "holds files but is not a run directory")
    assert [p.name for p in users.iterdir()] == ["thesis.tex"]


def test_resume_without_backup_refuses_to_retrain_over_the_model(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("backup"))
    kept = {name: (run / name).read_bytes() for name in ("model.weights.h5", "train_log.csv")}
    assert main(["--resume", str(run)]) == 2
    _one_error_line(capsys, "no backup state")
    assert {name: (run / name).read_bytes() for name in kept} == kept
    # the shipped models have no backup either: training into one is refused the same way
    assert main(["--resume", str(REPO / "checkpoints" / "en-es")]) == 2
    _one_error_line(capsys, "cannot be resumed")


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(reverse_corpus, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, str(REPO / "train.py"), "--out", str(run)]
    command += _set(tiny_overrides(reverse_corpus, **{"train.backup_steps": 5}))
    env = dict(os.environ, NMT_PROGRESS="0", TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_child,
    )
    deadline = time.time() + 300
    while not (run / "backup" / "state.json").is_file() and time.time() < deadline:
        assert process.poll() is None, process.stderr.read()[-2000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 130, err[-2000:]
    assert f"continue with: python train.py --resume {run}" in err
    assert "Traceback" not in err
    assert main(["--resume", str(run)]) == 0  # and the hint works
