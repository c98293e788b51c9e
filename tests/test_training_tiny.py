"""A tiny model learns the reverse task end to end through train()."""

import csv

from nmt.checkpoint import read_metadata
from nmt.translator import Translator


def test_tiny_model_learns_reverse_task(trained_run):
    with open(trained_run / "train_log.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.5 * losses[0], losses
    metadata = read_metadata(trained_run)
    assert metadata["test_scores"]["greedy"]["bleu"] > 90, metadata["test_scores"]
    translator = Translator.from_checkpoint(trained_run)
    out = translator.translate(["alpha bravo charlie", "kilo lima golf echo"], beam_size=1)
    assert out == ["CHARLIE BRAVO ALPHA", "ECHO GOLF LIMA KILO"]
