"""SentencePiece training, special ids, round trips and clear errors."""

import random

import pytest

from nmt.tokenizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    POOL_MIN_TEXTS,
    UNK_ID,
    Tokenizer,
    TokenizerError,
    train_tokenizer,
)

_rng = random.Random(0)
_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "under",
    "bright",
    "morning",
    "sky",
    "again",
]
TEXTS = [" ".join(_rng.choice(_WORDS) for _ in range(8)) for _ in range(300)]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return train_tokenizer(TEXTS, tmp_path_factory.mktemp("tok") / "src.model", vocab_size=60)


def test_special_ids_and_round_trip(tokenizer):
    sp = tokenizer.sp
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID)
    ids = tokenizer.encode(["the lazy dog jumps"], add_eos=True)[0]
    assert ids[-1] == EOS_ID and PAD_ID not in ids
    assert tokenizer.decode([ids + [PAD_ID, PAD_ID]]) == ["the lazy dog jumps"]


@pytest.mark.parametrize("count", [1, POOL_MIN_TEXTS - 1, POOL_MIN_TEXTS, 2 * POOL_MIN_TEXTS])
def test_short_and_long_lists_give_what_sentencepiece_gives(tokenizer, count):
    """Below ``POOL_MIN_TEXTS`` texts go one at a time, from there in one list call: the ids,
    their order, the special ids asked for and the decoded texts are the same either way."""
    texts = [TEXTS[i % len(TEXTS)] + " zebra" * (i % 3) for i in range(count)]
    texts[0] = ""
    expected = tokenizer.sp.encode(texts, out_type=int, add_bos=True, add_eos=True)
    ids = tokenizer.encode(texts, add_bos=True, add_eos=True)
    assert ids == expected and len(ids) == count
    assert ids[0] == [BOS_ID, EOS_ID] and all(seq[0] == BOS_ID for seq in ids)
    assert tokenizer.decode(ids) == tokenizer.sp.decode([seq[1:-1] for seq in expected])
    assert tokenizer.decode(ids) == texts


def test_small_corpus_gets_smaller_vocabulary(tmp_path):
    tok = train_tokenizer(["ab ab ab", "ba ba"], tmp_path / "t.model", vocab_size=5000)
    assert 4 < tok.vocabulary_size < 5000


def test_unknown_rate(tokenizer):
    assert tokenizer.unknown_rate(["the quick fox"]) == 0.0
    assert tokenizer.unknown_rate(["ζζζ ψψψ"]) >= 0.4


def test_sampling_changes_segmentation(tokenizer):
    text = ["the quick brown fox jumps over the lazy dog"] * 50
    samples = {tuple(s) for s in tokenizer.encode(text, sample=True, alpha=0.1)}
    assert len(samples) > 1
    assert all(tokenizer.decode([list(s)])[0] == text[0] for s in samples)


def test_missing_and_corrupt_models(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        Tokenizer.load(tmp_path / "none.model")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(TokenizerError, match="not a valid SentencePiece model"):
        Tokenizer.load(bad)


def test_vocabulary_smaller_than_alphabet_is_a_clear_error(tmp_path):
    with pytest.raises(TokenizerError, match="vocab_size"):
        train_tokenizer(["abcdefghijklmnopqrstuvwxyz"] * 5, tmp_path / "s.model", vocab_size=10)


def test_empty_corpus_is_an_error(tmp_path):
    with pytest.raises(TokenizerError, match="empty"):
        train_tokenizer(["", "  "], tmp_path / "e.model", vocab_size=10)
