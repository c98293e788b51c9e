"""Run directories: reload gives identical translations; broken directories give clear errors."""

import json
import shutil

import pytest

from nmt.checkpoint import CheckpointError, load_run
from nmt.translator import Translator

SENTENCES = ["alpha bravo", "india juliet kilo lima golf", "echo"]


@pytest.fixture
def run_copy(trained_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(trained_run, target, ignore=shutil.ignore_patterns("backup", "tensorboard"))
    return target


def test_reload_gives_identical_translations(trained_run, run_copy):
    first = Translator.from_checkpoint(trained_run).translate_detailed(SENTENCES, beam_size=1)
    second = Translator.from_checkpoint(run_copy).translate_detailed(SENTENCES, beam_size=1)
    assert [h[0].text for h in first] == [h[0].text for h in second]
    assert [h[0].log_prob for h in first] == pytest.approx([h[0].log_prob for h in second])


def test_run_directory_is_self_describing(trained_run):
    config, model, src, tgt, metadata = load_run(trained_run)
    assert metadata["src_vocabulary_size"] == src.vocabulary_size
    assert metadata["parameters"] == model.count_params()
    assert set(metadata["versions"]) == {"nmt", "tensorflow", "keras"}
    assert metadata["test_scores"]["greedy"]["bleu_signature"].startswith("nrefs:1")
    for name in (
        "config.yaml",
        "model.weights.h5",
        "last.weights.h5",
        "split.json",
        "train_log.csv",
        "tokenizer/src.model",
        "tokenizer/tgt.model",
    ):
        assert (trained_run / name).is_file(), name
    assert not list(trained_run.rglob("*.tmp*"))  # atomic writes leave no temporaries


def test_missing_directory():
    with pytest.raises(CheckpointError, match="not found"):
        load_run("/no/such/run")


def test_missing_weights(run_copy):
    (run_copy / "model.weights.h5").unlink()
    with pytest.raises(CheckpointError, match="no model.weights.h5"):
        load_run(run_copy)


def test_corrupt_weights(run_copy):
    (run_copy / "model.weights.h5").write_bytes(b"\x89HDF garbage")
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_run(run_copy)


def test_weights_from_another_model(run_copy):
    text = (run_copy / "config.yaml").read_text().replace("hidden_dim: 64", "hidden_dim: 32")
    (run_copy / "config.yaml").write_text(text)
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_run(run_copy)


def test_tokenizer_that_does_not_belong(run_copy, tmp_path):
    from nmt.tokenizer import train_tokenizer

    train_tokenizer([f"other words {i}" for i in range(50)], tmp_path / "o.model", vocab_size=40)
    shutil.copy(tmp_path / "o.model", run_copy / "tokenizer" / "tgt.model")
    with pytest.raises(CheckpointError, match="do not belong together"):
        load_run(run_copy)


def test_tokenizer_of_the_same_size_is_refused_by_its_sha256(run_copy, capsys):
    # another model's tokenizer with the same vocabulary size: only the sha256 tells them apart
    src, tgt = run_copy / "tokenizer" / "src.model", run_copy / "tokenizer" / "tgt.model"
    src_bytes = src.read_bytes()
    src.write_bytes(tgt.read_bytes())
    with pytest.raises(CheckpointError, match="src tokenizer this model was trained with"):
        load_run(run_copy)
    src.write_bytes(src_bytes)
    metadata = json.loads((run_copy / "metadata.json").read_text())
    del metadata["tokenizer_sha256"]  # a run directory from before the check
    (run_copy / "metadata.json").write_text(json.dumps(metadata))
    load_run(run_copy)
    assert "records no tokenizer sha256" in capsys.readouterr().err


def test_shipped_models_record_their_tokenizers(capsys):
    for name in ("en-es", "es-en"):
        load_run(name)
    assert "warning" not in capsys.readouterr().err


def test_corrupt_metadata_and_config(run_copy):
    (run_copy / "metadata.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt JSON"):
        load_run(run_copy)
    (run_copy / "metadata.json").write_text(json.dumps({"format_version": 1}))
    (run_copy / "config.yaml").write_text("model:\n  colour: red\n")
    with pytest.raises(CheckpointError, match="colour"):
        load_run(run_copy)


def test_newer_format_is_refused(run_copy):
    metadata = json.loads((run_copy / "metadata.json").read_text())
    metadata["format_version"] = 99
    (run_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(CheckpointError, match="newer nmt"):
        load_run(run_copy)
