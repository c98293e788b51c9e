"""tf.distribute: TF_CONFIG parsing, and two MultiWorkerMirroredStrategy workers on 127.0.0.1
that train a tiny model for a few steps and end with identical weights."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, reverse_pairs, tiny_overrides, write_tsv

from nmt.checkpoint import load_run, read_metadata
from nmt.distribute import DistributeError, WorkerInfo, tf_config_worker, worker_run_dir


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on the loopback interface."""
    sockets = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_tf_config_parsing(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 2}})
    )
    assert tf_config_worker() == WorkerInfo(2, 3)
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 3}})
    )
    with pytest.raises(DistributeError, match="index 3 but 3 workers"):
        tf_config_worker()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(DistributeError, match="malformed"):
        tf_config_worker()
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(DistributeError, match="needs the TF_CONFIG"):
        tf_config_worker()
    assert worker_run_dir(Path("runs/x"), WorkerInfo(0, 2)) == Path("runs/x")
    assert worker_run_dir(Path("runs/x"), WorkerInfo(1, 2)) == Path("runs/x.worker1")


@pytest.mark.slow
def test_two_workers_end_with_identical_weights(tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", reverse_pairs(600, seed=5))
    run = tmp_path / "run"
    overrides = tiny_overrides(
        corpus,
        **{
            "data.dev_size": 40,
            "data.test_size": 10,
            "train.epochs": 2,
            "train.token_budget": 300,
            "train.steps_per_epoch": 8,  # 8 batches: 4 steps of 2 replicas
            "train.strategy": "multi-worker",
            "train.warmup_steps": 4,
        },
    )
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    logs = []
    for index in range(2):
        env = dict(
            os.environ,
            NMT_PROGRESS="0",
            TF_CPP_MIN_LOG_LEVEL="3",
            CUDA_VISIBLE_DEVICES="",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        command = [sys.executable, str(REPO / "train.py"), "--out", str(run)]
        for item in overrides:
            command += ["--set", item]
        logs.append(open(tmp_path / f"worker{index}.log", "w"))  # noqa: SIM115
        processes.append(
            subprocess.Popen(command, cwd=REPO, env=env, stdout=logs[-1], stderr=logs[-1])
        )
    try:
        for process in processes:
            process.wait(timeout=500)
    finally:
        for process, log in zip(processes, logs):
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    outputs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    assert "worker 1 of 2" in outputs[1]
    worker_run = tmp_path / "run.worker1"
    for run_dir in (run, worker_run):
        metadata = read_metadata(run_dir)
        assert metadata["replicas"] == 2 and metadata["epochs_trained"] == 2
        state = json.loads((run_dir / "backup" / "state.json").read_text())
        assert state["step"] == 8  # 2 epochs of 4 steps, on both workers
        assert "val_loss" in state["history"][-1]  # dev loss over both workers' dev batches
    chief = load_run(run, "last")[1].get_weights()
    other = load_run(worker_run, "last")[1].get_weights()
    assert len(chief) == len(other)
    for x, y in zip(chief, other):
        np.testing.assert_array_equal(x, y)
    rows = csv.DictReader((run / "train_log.csv").read_text().splitlines())
    losses = [float(row["loss"]) for row in rows]
    assert len(losses) == 2 and losses[1] < losses[0], losses
