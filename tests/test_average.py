"""Checkpoint averaging: per-epoch weights kept by training, averaged into a working model."""

import json
import shutil

import h5py
import numpy as np
import pytest

from nmt.average import average_checkpoints, main
from nmt.checkpoint import CheckpointError, read_metadata
from nmt.export import write_weights


def _arrays(path) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(
            lambda name, obj: (
                found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return found


def test_training_keeps_the_last_epochs(trained_run):
    names = sorted(p.name for p in (trained_run / "epochs").iterdir())
    assert names == [f"epoch-00{n}.weights.h5" for n in (10, 11, 12)]
    # the last kept epoch is the last checkpoint
    last, kept = (
        _arrays(trained_run / "last.weights.h5"),
        _arrays(trained_run / "epochs" / names[-1]),
    )
    assert all(np.array_equal(last[k], kept[k]) for k in last)


def test_average_is_the_mean_and_translates(trained_run, tmp_path):
    from nmt.evaluate import rebuild_test_split
    from nmt.scoring import score_corpus
    from nmt.translator import Translator

    epochs = sorted((trained_run / "epochs").iterdir())
    out = average_checkpoints(epochs, tmp_path / "avg")
    averaged = _arrays(out / "model.weights.h5")
    parts = [_arrays(p) for p in epochs]
    assert set(averaged) == set(parts[0]) and len(averaged) > 5
    for name, value in averaged.items():
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, np.mean([p[name] for p in parts], axis=0), atol=1e-6)
    assert any(not np.array_equal(parts[0][k], parts[2][k]) for k in averaged)  # a real mean
    metadata = read_metadata(out)
    assert len(metadata["averaged_from"]) == 3 and "test_scores" not in metadata
    sources, refs = rebuild_test_split(out)
    hyps = Translator.from_checkpoint(out).translate(sources, beam_size=1)
    assert score_corpus(hyps, refs)["bleu"] > 90


def test_averaging_refuses_what_does_not_belong_together(trained_run, tmp_path, capsys):
    best = trained_run / "model.weights.h5"
    with pytest.raises(CheckpointError, match="at least two"):
        average_checkpoints([trained_run], tmp_path / "a")
    with pytest.raises(CheckpointError, match="twice"):
        average_checkpoints([trained_run, best], tmp_path / "a")
    with pytest.raises(CheckpointError, match="write elsewhere"):
        average_checkpoints([trained_run, trained_run / "last.weights.h5"], trained_run)
    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("mine", encoding="utf-8")
    assert main([str(users), str(trained_run), str(trained_run / "last.weights.h5")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in users.iterdir()] == ["notes.txt"]
    other = tmp_path / "other"
    shutil.copytree(trained_run, other, ignore=shutil.ignore_patterns("backup", "epochs"))
    (other / "tokenizer" / "tgt.model").write_bytes(
        (other / "tokenizer" / "src.model").read_bytes()
    )
    with pytest.raises(CheckpointError, match="same tokenizer"):
        average_checkpoints([trained_run, other], tmp_path / "a")
    assert main([str(tmp_path / "a"), str(trained_run), str(other)]) == 2
    assert "same tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_weights_with_other_arrays_are_refused(trained_run, tmp_path):
    odd = tmp_path / "odd.weights.h5"
    with h5py.File(odd, "w") as h5:
        h5.create_dataset("layers/embedding/vars/0", data=np.zeros((3, 3), np.float32))
    with pytest.raises(CheckpointError, match="other arrays"):
        write_weights([trained_run / "model.weights.h5", odd], tmp_path / "x.weights.h5")
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(CheckpointError, match="not a readable"):
        write_weights([tmp_path / "junk.weights.h5"], tmp_path / "y.weights.h5")


def test_evaluate_scores_the_dev_split(trained_run, tmp_path):
    from nmt.evaluate import main as evaluate

    out = tmp_path / "dev"
    assert evaluate([str(trained_run), "--beams", "1", "--split", "dev", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())[0]
    counts = json.loads((trained_run / "split.json").read_text())["counts"]
    assert report["split"] == "dev" and report["sentences"] == counts["dev"]
    assert report["results"]["beam1"]["bleu"] > 90
    with pytest.raises(SystemExit):
        evaluate([str(trained_run), "--split", "dev", "--update-metadata"])
