"""Shipping export: float16 weights, best weights only, same translations."""

import numpy as np

from nmt.checkpoint import load_run, read_metadata
from nmt.export import export_run
from nmt.translator import Translator


def test_float16_export_translates_the_same(trained_run, tmp_path):
    out = export_run(trained_run, tmp_path / "shipped", float16=True)
    assert not (out / "last.weights.h5").exists() and not (out / "backup").exists()
    assert (out / "model.weights.h5").stat().st_size < 0.7 * (
        trained_run / "model.weights.h5"
    ).stat().st_size
    assert read_metadata(out)["weights_dtype"] == "float16"
    _, full, *_ = load_run(trained_run)
    _, half, *_ = load_run(out)
    for a, b in zip(full.get_weights(), half.get_weights()):
        assert b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4)
    sentences = ["alpha bravo charlie", "lima kilo", "echo delta golf hotel"]
    assert Translator.from_checkpoint(out).translate(sentences, beam_size=1) == (
        Translator.from_checkpoint(trained_run).translate(sentences, beam_size=1)
    )


def test_export_never_replaces_an_existing_folder(trained_run, tmp_path, capsys):
    from nmt.export import main

    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("mine", encoding="utf-8")
    assert main([str(trained_run), str(users)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert (users / "notes.txt").read_text(encoding="utf-8") == "mine"
    before = sorted(p.name for p in trained_run.iterdir())
    assert main([str(trained_run), str(trained_run)]) == 2  # onto itself
    assert sorted(p.name for p in trained_run.iterdir()) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(trained_run), str(empty)]) == 0  # an empty folder is fine
    assert (empty / "model.weights.h5").is_file()
