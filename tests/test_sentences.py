"""Sentence boundaries (nmt.sentences): the rules, the abbreviations learned from training
text, and the translator's sentence-by-sentence translation of a text."""

from collections import Counter

import pytest

from nmt.sentences import SentenceSplitter, learn_sentence_splitting
from nmt.translator import Translator

SPLITTER = SentenceSplitter(frozenset({"gen"}))


@pytest.mark.parametrize(
    "text, sentences, separators",
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"], [" ", " ", " "]),
        ("No boundary here.", ["No boundary here."], []),
        ("", [""], []),
        # the next sentence must start like one: a lower-case word continues the sentence
        ("see you. then we go", ["see you. then we go"], []),
        ("It costs 5. 6 is more.", ["It costs 5.", "6 is more."], [" "]),
        # opening and closing marks stay with their sentence
        ("¡Mira! ¿Hay un avión? «Sí.» Vale.", ["¡Mira!", "¿Hay un avión?", "«Sí.»", "Vale."],
         [" ", " ", " "]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."], [" "]),
        ("Wait... What?", ["Wait...", "What?"], [" "]),
        # initials, words with inner periods, vowel-less and learned abbreviations
        ("J. K. Rowling wrote it. She is British.", ["J. K. Rowling wrote it.", "She is British."],
         [" "]),
        ("The U.S. Army is big.", ["The U.S. Army is big."], []),
        # an acronym may end a sentence; a lower-case vowel-less word does not
        ("We watched TV. Then we slept.", ["We watched TV.", "Then we slept."], [" "]),
        ("Tom vs. Mary is on.", ["Tom vs. Mary is on."], []),
        ("Dr. Who is here. Mrs. Smith too.", ["Dr. Who is here.", "Mrs. Smith too."], [" "]),
        ("We climbed Mt. Fuji. It was cold.", ["We climbed Mt. Fuji.", "It was cold."], [" "]),
        ("We met Gen. Lee. It was cold.", ["We met Gen. Lee.", "It was cold."], [" "]),
        # scripts without case, and full-width marks without spaces
        ("مرحبا. كيف حالك؟", ["مرحبا.", "كيف حالك؟"], [" "]),
        ("我饿了。你呢？", ["我饿了。", "你呢？"], [""]),
        ("我饿了。 你呢？", ["我饿了。", "你呢？"], [" "]),
        # whitespace around the text stays on its ends; runs of whitespace become one separator
        ("  lead.\t\tTrail.  ", ["  lead.", "Trail.  "], [" "]),
    ],
)  # fmt: skip
def test_sentences_and_separators(text, sentences, separators):
    assert SPLITTER.split(text) == (sentences, separators)


def test_every_character_but_the_joining_whitespace_is_kept():
    text = "First one.  Second one!\nThird one? «Fourth.» 5 more."
    sentences, separators = SPLITTER.split(text)
    assert len(sentences) == 5
    assert "".join(sentences).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_abbreviations_are_learned_from_periods_inside_lines():
    lines = (
        ["We met Gen. Lee.", "Gen. Grant is here.", "Ask Gen. Smith over there."]
        + ["Stop. Come here.", "Stop. Listen.", "Stop. Think.", "Stop talking.", "Please stop."]
        + ["Hello. Who is it?", "Hello. Tom here.", "Hello. Anyone?", "Say hello."]
        + ["I saw Tom.", "Tom is here."] * 3
    )
    found = learn_sentence_splitting(lines + lines)  # repeated lines count once
    # "Stop" and "Hello" end sentences elsewhere or appear without a period: no abbreviations
    assert found["abbreviations"] == ["gen"]
    several = {"Stop. Come here.", "Stop. Listen.", "Stop. Think.", "Hello. Who is it?",
               "Hello. Tom here.", "Hello. Anyone?", "Gen. Grant is here.",
               "Ask Gen. Smith over there.", "We met Gen. Lee."}  # fmt: skip
    assert found["multi_sentence_share"] == round(len(several) / len(set(lines)), 4)
    splitter = SentenceSplitter.from_dict(found)
    assert splitter.split("Gen. Lee is here. Stop. Hello.")[0] == [
        "Gen. Lee is here.",
        "Stop.",
        "Hello.",
    ]


def test_numbers_are_ordinals_where_the_training_text_writes_them_so():
    dates = [f"Heute ist der {day}. Mai." for day in range(1, 9)]
    ends = ["Ich bin 30.", "Es kostet 5.", "Wir sind 4.", "Gut. Danke."] + [
        f"Das ist Satz {word}." for word in ("eins", "zwei", "drei", "vier")
    ]
    found = learn_sentence_splitting(dates + ends)
    assert found["ordinals"] is True
    splitter = SentenceSplitter.from_dict(found)
    assert splitter.split("Er kommt am 5. Mai. Gut.")[0] == ["Er kommt am 5. Mai.", "Gut."]
    # single sentences that end in numbers as often as others: no ordinals
    plain = learn_sentence_splitting(ends + ["It was 1990. Then it was over."] + dates[:1])
    assert plain["ordinals"] is False
    assert SentenceSplitter().split("In 1990. Then")[0] == ["In 1990.", "Then"]


def test_a_record_without_abbreviations_gives_the_plain_rules():
    for record in (None, {}, {"abbreviations": "Gen"}, {"abbreviations": [3, "Gen"]},
                   {"ordinals": "yes"}):  # fmt: skip
        splitter = SentenceSplitter.from_dict(record)
        assert splitter.abbreviations <= {"gen"} and not splitter.ordinals
    assert SentenceSplitter.from_dict(None).split("Gen. Lee.")[0] == ["Gen.", "Lee."]
    assert SentenceSplitter.from_dict({"abbreviations": ["Gen"]}).split("Gen. Lee.")[0] == [
        "Gen. Lee."
    ]


# --- the translator ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def translator(trained_run) -> Translator:
    return Translator.from_checkpoint(trained_run)


def test_a_text_of_sentences_is_the_join_of_their_translations(translator):
    text = "alpha bravo charlie. India juliet! Kilo lima golf"
    stats: Counter = Counter()
    settings = translator.settings(beam_size=2)
    (hyp,) = translator.translate_detailed([text], stats=stats, settings=settings)[0]
    assert stats["sentence_lines"] == 1
    alone = translator.translate_detailed(
        ["alpha bravo charlie.", "India juliet!", "Kilo lima golf"], settings=settings
    )
    assert hyp.text == " ".join(h[0].text for h in alone)
    assert hyp.tokens == [t for h in alone for t in h[0].tokens]
    assert hyp.log_prob == pytest.approx(sum(h[0].log_prob for h in alone), rel=1e-5)
    # the batch around it does not matter, and the order of inputs is kept
    batch = translator.translate(["india juliet", text, ""], settings=settings)
    assert batch[1] == hyp.text and batch[2] == ""


def test_the_n_best_list_of_a_text_joins_its_sentences_lists(translator):
    settings = translator.settings(beam_size=3, n_best=3)
    (found,) = translator.translate_detailed(["alpha bravo. India juliet kilo"], settings=settings)
    first, second = translator.translate_detailed(["alpha bravo.", "India juliet kilo"],
                                                  settings=settings)  # fmt: skip
    assert len(found) == max(len(first), len(second)) == 3
    for j, hyp in enumerate(found):
        a, b = first[min(j, len(first) - 1)], second[min(j, len(second) - 1)]
        assert hyp.text == " ".join(t for t in (a.text, b.text) if t)
        assert hyp.log_prob == pytest.approx(a.log_prob + b.log_prob, rel=1e-5)


def test_split_sentences_off_translates_the_text_as_one(translator):
    text = "alpha bravo charlie. India juliet"
    stats: Counter = Counter()
    settings = translator.settings(beam_size=2, split_sentences=False)
    (hyp,) = translator.translate_detailed([text], stats=stats, settings=settings)[0]
    assert stats["sentence_lines"] == 0
    assert hyp.src_tokens == translator.encode_sources([text])[0]


def test_learned_abbreviations_from_the_run_are_used(trained_run):
    plain = Translator.from_checkpoint(trained_run)
    assert plain.sentence_splitter.split("alpha bravo. India")[0] == ["alpha bravo.", "India"]
    taught = Translator(
        plain.model, plain.src_tokenizer, plain.tgt_tokenizer, plain.decode,
        config=plain.config, metadata={"sentences": {"abbreviations": ["bravo"]}},
    )  # fmt: skip
    stats: Counter = Counter()
    taught.translate_detailed(["alpha bravo. India juliet"], stats=stats)
    assert stats["sentence_lines"] == 0


def test_a_model_trained_on_lines_of_several_sentences_translates_them_whole(trained_run):
    plain = Translator.from_checkpoint(trained_run)
    for share, splits in ((0.05, True), (0.2, False), (0.6, False)):
        record = {"multi_sentence_share": share, "abbreviations": []}
        model = Translator(
            plain.model, plain.src_tokenizer, plain.tgt_tokenizer, plain.decode,
            config=plain.config, metadata={"sentences": record},
        )  # fmt: skip
        stats: Counter = Counter()
        model.translate_detailed(["alpha bravo. India juliet"], stats=stats)
        assert stats["sentence_lines"] == int(splits), share
        assert (model.sentence_splitter is not None) == splits


def test_attention_of_a_split_text_is_block_diagonal(translator):
    if not translator.has_attention:
        pytest.skip("the tiny model has no attention")
    text = "alpha bravo. India juliet kilo"
    settings = translator.settings(beam_size=2, with_attention=True)
    (hyp,) = translator.translate_detailed([text], settings=settings)[0]
    first, second = translator.translate_detailed(["alpha bravo.", "India juliet kilo"],
                                                  settings=settings)  # fmt: skip
    rows, cols = len(first[0].tokens), len(first[0].src_tokens)
    assert hyp.attention.shape == (rows + len(second[0].tokens), cols + len(second[0].src_tokens))
    assert not hyp.attention[:rows, cols:].any() and not hyp.attention[rows:, :cols].any()
