"""Users' own dev and test sets through a real tiny run: CLI, metadata, split.json, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import reverse_pairs, tiny_overrides, write_tsv

from nmt.checkpoint import read_metadata
from nmt.cli_train import main as train_main
from nmt.evaluate import EvaluationError, rebuild_split, rebuild_test_split
from nmt.evaluate import main as evaluate_main


@pytest.fixture(scope="module")
def given_run(tmp_path_factory) -> tuple[Path, str, Path]:
    """A short run trained with --dev SRC,TGT files and --test TSV."""
    folder = tmp_path_factory.mktemp("given")
    corpus = write_tsv(folder / "corpus.tsv", reverse_pairs(600, seed=5))
    dev_pairs = reverse_pairs(30, seed=6)
    (folder / "dev.xx").write_text("".join(f"{s}\n" for s, _ in dev_pairs), encoding="utf-8")
    (folder / "dev.yy").write_text("".join(f"{t}\n" for _, t in dev_pairs), encoding="utf-8")
    dev = f"{folder / 'dev.xx'},{folder / 'dev.yy'}"
    test = write_tsv(folder / "test.tsv", reverse_pairs(30, seed=7))
    run = folder / "run"
    overrides = tiny_overrides(corpus, **{"train.epochs": 1, "train.steps_per_epoch": 5})
    argv = ["--dev", dev, "--test", str(test), "--out", str(run)]
    assert train_main(argv + [arg for o in overrides for arg in ("--set", o)]) == 0
    return run, dev, test


def test_leak_report_reaches_metadata_and_split_file(given_run):
    run, dev, test = given_run
    leaks = read_metadata(run)["leaks"]
    assert leaks["sets"]["dev"]["corpus"] == dev and leaks["sets"]["test"]["corpus"] == str(test)
    assert leaks["sets"]["dev"]["pairs"] == leaks["sets"]["test"]["pairs"] == 30
    # short sentences of twelve words recur: some training pairs leak and are removed
    assert leaks["removed"] == leaks["leaking"] > 0
    split = json.loads((run / "split.json").read_text())
    assert split["dev_given"]["corpus"] == dev and split["test_given"]["corpus"] == str(test)
    assert "dev_rows" not in split and "test_rows" not in split
    cleaned = len(set(reverse_pairs(600, seed=5)))  # duplicate pairs are dropped
    assert split["counts"]["train"] == cleaned - leaks["removed"]


def test_evaluate_rebuilds_given_sets(given_run, tmp_path):
    run = given_run[0]
    sources, refs = rebuild_split(run, "dev")
    assert list(zip(sources, refs)) == reverse_pairs(30, seed=6)
    out = tmp_path / "report"
    assert evaluate_main([str(run), "--beams", "1", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())[0]["sentences"] == 30


def test_changed_given_set_is_refused(given_run):
    run, _, test = given_run
    original = test.read_text(encoding="utf-8")
    try:
        test.write_text(original + "alpha\tALPHA\n", encoding="utf-8")
        with pytest.raises(EvaluationError, match="given test set .* has changed"):
            rebuild_test_split(run)
    finally:
        test.write_text(original, encoding="utf-8")


def test_missing_dev_file_is_one_error_line(tmp_path, capsys):
    corpus = write_tsv(tmp_path / "c.tsv", reverse_pairs(50))
    argv = ["--corpus", str(corpus), "--src", "xx", "--tgt", "yy", "--out", str(tmp_path / "r")]
    assert train_main(argv + ["--dev", "MISSING,FILE"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: given dev set") and "MISSING" in err[0]
