"""Language detection from the models' own tokenizers (nmt.detect), on the shipped en-es and
es-en tokenizers."""

from __future__ import annotations

import pytest
from conftest import REPO

from nmt.detect import LanguageDetector
from nmt.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    models = REPO / "checkpoints"
    return LanguageDetector(
        {
            "en": Tokenizer.load(models / "en-es" / "tokenizer" / "src.model"),
            "es": Tokenizer.load(models / "es-en" / "tokenizer" / "src.model"),
        }
    )


@pytest.mark.parametrize(
    "text, language",
    [
        ("How are you?", "en"),
        ("I would like to buy a ticket to the station.", "en"),
        ("The weather is nice today.", "en"),
        ("¿Cómo estás?", "es"),
        ("Me gustaría comprar un billete a la estación.", "es"),
        ("Hoy hace buen tiempo.", "es"),
    ],
)
def test_sentences_get_their_language(detector, text, language):
    found = detector.detect(text)
    assert [d.language for d in found] == [language, "es" if language == "en" else "en"]
    assert found[0].confidence > 90
    assert abs(sum(d.confidence for d in found) - 100) < 0.2


def test_unknown_characters_count_against_a_language(detector):
    # a tokenizer that has never seen these letters must not find them likely
    likelihoods = detector.log_likelihoods("ñandú pingüino")
    assert likelihoods["es"] > likelihoods["en"]


def test_nothing_to_tell_gives_even_odds(detector):
    assert [d.confidence for d in detector.detect("")] == [50.0, 50.0]
    assert detector.languages == ["en", "es"]
    with pytest.raises(ValueError, match="at least one"):
        LanguageDetector({})


def test_a_models_languages_come_from_its_sides():
    from nmt.detect import models_detector

    models = REPO / "checkpoints"
    en_es = [Tokenizer.load(models / "en-es" / "tokenizer" / f"{s}.model") for s in ("src", "tgt")]
    es_en = [Tokenizer.load(models / "es-en" / "tokenizer" / f"{s}.model") for s in ("src", "tgt")]
    one = models_detector([("EN", en_es[0], "es", en_es[1])])
    assert one.languages == ["en", "es"]  # lower-cased; the target side counts too
    assert one.detect("¿Cómo estás?")[0].language == "es"
    # a language read by one model and written by another takes the reading side's tokenizer
    # (here the first model's target side is deliberately the English one)
    both = models_detector([("en", en_es[0], "es", en_es[0]), ("es", es_en[0], "en", es_en[1])])
    assert both.languages == ["en", "es"]
    text = "Hoy hace buen tiempo."
    spanish = LanguageDetector({"es": es_en[0]}).log_likelihoods(text)["es"]
    english = LanguageDetector({"es": en_es[0]}).log_likelihoods(text)["es"]
    assert spanish != pytest.approx(english)
    assert both.log_likelihoods(text)["es"] == pytest.approx(spanish)
