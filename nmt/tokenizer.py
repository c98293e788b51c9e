"""SentencePiece subword tokenizers with fixed special ids (pad 0, unk 1, bos 2, eos 3)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
WORD_START = "\u2581"  # SentencePiece's word-boundary mark: a piece starting with it opens a word
# SentencePiece's list calls start a thread pool on every call: a fixed cost worth paying for a
# corpus, but many times the work itself for the few sentences of a server's or a user's call
# (bench/tokenizer_calls.py). Shorter lists go one text at a time.
POOL_MIN_TEXTS = 96


class TokenizerError(ValueError):
    """A tokenizer file is missing, unreadable or does not fit the model."""


class Tokenizer:
    """A loaded SentencePiece model with batch encode/decode."""

    def __init__(self, processor: spm.SentencePieceProcessor, path: Path | None = None):
        self.sp = processor
        self.path = path
        specials = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
        if specials != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise TokenizerError(
                f"{path}: special ids (pad, unk, bos, eos) are {specials}, expected "
                f"{(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}; was it trained by nmt?"
            )

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise TokenizerError(f"tokenizer model not found: {path}")
        processor = spm.SentencePieceProcessor()
        try:
            processor.Load(str(path))
        except (OSError, RuntimeError) as err:
            raise TokenizerError(f"{path}: not a valid SentencePiece model ({err})") from err
        return cls(processor, path)

    @property
    def vocabulary_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(
        self,
        texts: list[str],
        add_bos: bool = False,
        add_eos: bool = False,
        sample: bool = False,
        alpha: float = 0.1,
    ) -> list[list[int]]:
        """Encode a batch of strings to id lists (optionally with subword sampling)."""
        options = dict(
            out_type=int,
            add_bos=add_bos,
            add_eos=add_eos,
            enable_sampling=sample,
            alpha=alpha,
            nbest_size=-1,
        )
        if len(texts) < POOL_MIN_TEXTS:
            return [self.sp.encode(text, **options) for text in texts]
        return self.sp.encode(list(texts), **options)

    def decode(self, ids: list[list[int]]) -> list[str]:
        """Decode id lists to strings; pad/bos/eos ids are ignored."""
        kept = [[i for i in seq if i > EOS_ID] for seq in ids]
        if len(kept) < POOL_MIN_TEXTS:
            return [self.sp.decode(seq) for seq in kept]
        return self.sp.decode(kept)

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.sp.id_to_piece(i) for i in ids]

    def unknown_rate(self, texts: list[str]) -> float:
        """Share of encoded pieces that are the unknown piece."""
        encoded = self.encode(texts)
        total = sum(len(seq) for seq in encoded)
        return sum(seq.count(UNK_ID) for seq in encoded) / max(total, 1)


def train_tokenizer(
    texts: Iterable[str],
    model_path: str | Path,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
    seed_sentences: int = 2_000_000,
) -> Tokenizer:
    """Train a SentencePiece model on ``texts`` and write it to ``model_path`` (``*.model``)."""
    model_path = Path(model_path)
    if model_path.suffix != ".model":
        raise ValueError("model_path must end with .model")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "train.txt"
        count = 0
        with corpus.open("w", encoding="utf-8") as handle:
            for text in texts:
                text = text.replace("\n", " ").strip()
                if text:
                    handle.write(text + "\n")
                    count += 1
        if count == 0:
            raise TokenizerError("cannot train a tokenizer on an empty corpus")
        prefix = Path(tmp) / "sp"
        try:
            _train(corpus, prefix, vocab_size, model_type, character_coverage, seed_sentences)
        except RuntimeError as err:
            raise TokenizerError(
                f"SentencePiece training failed ({err}); with a small alphabet or corpus, "
                "raise data.vocab_size or lower data.character_coverage"
            ) from err
        # copy into place atomically so a killed run leaves no half model
        from nmt.io import atomic_copy

        atomic_copy(prefix.with_suffix(".model"), model_path)
    return Tokenizer.load(model_path)


def _train(
    corpus: Path,
    prefix: Path,
    vocab_size: int,
    model_type: str,
    character_coverage: float,
    seed_sentences: int,
) -> None:
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        hard_vocab_limit=False,  # small corpora get a smaller vocabulary, not an error
        input_sentence_size=seed_sentences,
        shuffle_input_sentence=True,
        num_threads=2,
        minloglevel=2,
    )
