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
