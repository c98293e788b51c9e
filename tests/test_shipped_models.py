"""The shipped models still score what their metadata says (a broken loader or tokenizer can't
pass unnoticed). Slow: each translates its whole test split."""

import pytest

from nmt.checkpoint import SHIPPED_DIR, read_metadata
from nmt.evaluate import rebuild_test_split
from nmt.scoring import score_corpus
from nmt.translator import Translator

SHIPPED = (
    sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / "metadata.json").is_file())
    if (SHIPPED_DIR.is_dir())
    else []
)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_matches_its_metadata(name, shared_corpora):
    run_dir = SHIPPED_DIR / name
    metadata = read_metadata(run_dir)
    recorded = metadata["test_scores"]
    sources, refs = rebuild_test_split(run_dir, str(shared_corpora))
    translator = Translator.from_checkpoint(run_dir)
    for search, beam in (("greedy", 1), (f"beam{translator.decode.beam_size}", None)):
        if search not in recorded:
            continue
        hyps = translator.translate(sources, beam_size=beam or translator.decode.beam_size)
        bleu = score_corpus(hyps, refs)["bleu"]
        assert abs(bleu - recorded[search]["bleu"]) <= 0.5, (name, search, bleu, recorded)


def test_shipped_default_model_exists():
    from nmt.cli_translate import DEFAULT_MODEL

    if not SHIPPED:
        pytest.skip("no shipped models in checkpoints/ yet")
    assert DEFAULT_MODEL in SHIPPED
