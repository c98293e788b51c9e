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


# single words and unpunctuated phrases, unlike the punctuated sentences the models learned from
SHORT_INPUTS = {
    "en-es": [
        "Mary",
        "Paris",
        "fifty",
        "books",
        "bread",
        "building",
        "dinner",
        "Hello",
        "I refuse",
    ],
    "es-en": [
        "María",
        "París",
        "cincuenta",
        "libros",
        "pan",
        "edificio",
        "cena",
        "Hola",
        "Me niego",
    ],
}


@pytest.mark.parametrize("name", sorted(set(SHIPPED) & set(SHORT_INPUTS)))
def test_short_inputs_do_not_loop(name):
    translator = Translator.from_checkpoint(name)
    words = SHORT_INPUTS[name]
    for beam in (1, translator.decode.beam_size):
        outputs = translator.translate(words, beam_size=beam)
        punctuated = translator.translate([w + "." for w in words], beam_size=beam)
        for word, out, with_mark in zip(words, outputs, punctuated):
            tokens = out.split()
            assert not any(a == b == c for a, b, c in zip(tokens, tokens[1:], tokens[2:])), out
            assert len(tokens) <= 3 * len(word.split()), (word, out)
            assert not out.endswith(".")  # no mark in, none out
            assert out == with_mark.removesuffix(".").rstrip()  # translated as the sentence


PARAGRAPHS = {
    "en-es": "I am hungry. Where is the train station? Tom went home early because he was tired.",
    "es-en": "Tengo hambre. ¿Dónde está la estación de tren? Tom se fue a casa temprano.",
}


@pytest.mark.parametrize("name", sorted(set(SHIPPED) & set(PARAGRAPHS)))
def test_a_paragraph_is_translated_sentence_by_sentence(name):
    translator = Translator.from_checkpoint(name)
    paragraph = PARAGRAPHS[name]
    sentences, separators = translator.sentence_splitter.split(paragraph)
    assert len(sentences) == 3 and separators == [" ", " "]
    alone = translator.translate(sentences)
    assert translator.translate([paragraph]) == [" ".join(alone)]
    # as one text the model loses sentences: the reason for splitting
    whole = translator.translate([paragraph], settings=translator.settings(split_sentences=False))
    assert len(whole[0]) < len(" ".join(alone))
