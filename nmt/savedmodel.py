"""Export a run as a TensorFlow SavedModel that translates strings to strings.

``python3 -m nmt.savedmodel RUN OUT`` writes a SavedModel with two signatures, each
``inputs`` ``tf.string (batch,)`` -> ``{"translations": tf.string (batch,)}``:

- ``serving_default``: beam search with the model's stored beam size (``decode.beam_size``);
- ``greedy``: greedy search.

The whole of ``Translator.translate`` runs inside the graph, so that TF Serving or any
TensorFlow runtime needs nothing of this package, only TensorFlow and the tensorflow-text ops
(``pip install .[export]``; ``import tensorflow_text`` before ``tf.saved_model.load``):

- the end-mark completion (``nmt.end_marks``, when the run records marks and
  ``decode.complete_end_mark`` is on), as regular expressions on ``tf.strings``;
- SentencePiece encoding and decoding (tensorflow-text's ``SentencepieceTokenizer``, over the
  run's own ``.model`` files);
- the translation of a text sentence by sentence (``nmt.sentences``, when
  ``decode.split_sentences`` is on, with the run's learned abbreviations), as regular
  expressions that mark the boundaries;
- the splitting of inputs longer than the training limit (``nmt.segment``) and the joining of
  their pieces' and sentences' translations;
- the translator's length-sorted token-budget batches (``decode.token_budget``,
  ``Translator.batch_sentences``) and its search (``nmt.executor.search_graph``, with the packed
  encoder, which is plain TensorFlow on any device, and the frozen ``decode_tables``).

The outputs are those of ``Translator.translate`` on the same strings. What stays the client's
job: inputs must be valid UTF-8 (as JSON requests are); ``translate.py``'s line repair
(``nmt.streaming.repair_line``: NFC, control characters and terminal escapes dropped, blanks
collapsed) is not applied, exactly as ``Translator.translate`` does not apply it; a client that
reads raw lines should repair them first. Unicode tables may differ slightly between RE2 (the
``\\pP`` punctuation test of the end-mark completion) and Python's ``unicodedata`` for
characters added in recent Unicode versions. n-best lists, scores and attention are not
exported. A request's batches run one after another in a loop inside the graph, so memory
stays bounded by the token budget whatever the request's size.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nmt.env import quiet_tensorflow

if __name__ == "__main__":  # before nmt.checkpoint loads TensorFlow
    quiet_tensorflow()

import tensorflow as tf  # noqa: E402

from nmt.checkpoint import CheckpointError, load_run, resolve_run_dir  # noqa: E402
from nmt.decoding import DecodeSettings  # noqa: E402
from nmt.executor import DECODE_TABLE_BYTES, search_graph  # noqa: E402
from nmt.io import atomic_folder, folder_megabytes, write_folder  # noqa: E402
from nmt.segment import SENTENCE_END  # noqa: E402
from nmt.sentences import (  # noqa: E402
    CLOSING,
    ENDS,
    FULL_WIDTH,
    NO_VOWEL_WORD,
    OPENING,
    OPENING_CATEGORIES,
    START_CATEGORIES,
    SentenceSplitter,
)
from nmt.tokenizer import EOS_ID, PAD_ID, WORD_START  # noqa: E402
from nmt.translator import Translator  # noqa: E402

EXPORT_INFO = "nmt_export.json"
INPUT_NAME = "inputs"
OUTPUT_NAME = "translations"
# Python's str.rstrip() whitespace (str.isspace): ASCII \t-\r, the separators \x1c-\x1f, NEL
# and every Unicode space, line and paragraph separator (RE2's \s is ASCII only)
_SPACE = r"[\t-\r\x{1c}-\x{1f}\x{85}\p{Z}]"


class ExportError(ValueError):
    """The export cannot be made (missing tensorflow-text, an existing output folder)."""


def _char(ch: str) -> str:
    """An RE2 pattern matching exactly ``ch``, whatever it is."""
    return f"\\x{{{ord(ch):x}}}"


def _rstrip(texts: tf.Tensor) -> tf.Tensor:
    """``str.rstrip()`` of every string of ``texts`` (any shape)."""
    return tf.strings.regex_replace(texts, _SPACE + "+$", "")


def complete_end_marks(texts: tf.Tensor, src_mark: str) -> tuple[tf.Tensor, tf.Tensor]:
    """``EndMarks.complete`` on ``texts`` ``(batch,)``: the completed texts and whether a mark
    was added ``(batch,)`` bool (a text with no final punctuation, ``\\pP``, gets ``src_mark``
    after its trailing spaces are removed; an empty or blank one gets none)."""
    stripped = _rstrip(texts)
    add = tf.logical_and(
        tf.strings.length(stripped) > 0,
        tf.logical_not(tf.strings.regex_full_match(stripped, r"(?s).*\pP")),
    )
    return tf.where(add, stripped + src_mark, texts), add


def strip_end_marks(texts: tf.Tensor, added: tf.Tensor, tgt_mark: str) -> tf.Tensor:
    """``EndMarks.strip`` on the ``texts`` ``(batch,)`` whose input had a mark ``added``."""
    stripped = _rstrip(texts)
    ends = tf.strings.regex_full_match(stripped, "(?s).*" + _char(tgt_mark))
    cut = _rstrip(tf.strings.regex_replace(stripped, _char(tgt_mark) + "$", ""))
    return tf.where(tf.logical_and(added, ends), cut, texts)


def _chars(chars: str) -> str:
    """The RE2 class body matching each of ``chars``."""
    return "".join(_char(ch) for ch in chars)


# Markers written into the texts while they are cut into sentences: an input's own \x01 is
# escaped first (\x01 a), so that \x01 followed by another letter is always a marker.
_ESCAPE, _PERIOD, _SPACED_CUT, _TIGHT_CUT = "\x01a", "\x01p", "\x01s", "\x01n"


def _protect_abbreviations(texts: tf.Tensor, splitter: SentenceSplitter) -> tf.Tensor:
    """Every lone period after a word that ``nmt.sentences`` takes for an abbreviation (an
    initial, a word with a period inside, a Latin word without a vowel, a learned one, a number
    when the splitter takes numbers for ordinals; the word after its leading marks) replaced by
    a marker, so that the boundary patterns do not see it."""
    ends, space = _chars(ENDS), _SPACE[1:-1]
    # the word with a period inside first: RE2 takes the first alternative that matches, and
    # "U" of "U.S." alone would be an initial
    words = [
        rf"[^{space}\pP][^{space}]*\.[^{space}]*[^{space}{ends}]",
        r"\pL",
        NO_VOWEL_WORD,
    ]
    if splitter.abbreviations:
        learned = "|".join(_chars(word) for word in sorted(splitter.abbreviations))
        words.append(f"(?i:{learned})")
    if splitter.ordinals:
        words.append(r"\p{Nd}+")
    # the character after the period is taken too (RE2 has no look-ahead): two passes catch
    # a run of abbreviations whose spaces the first pass took every other one of
    pattern = rf"(^|{_SPACE})(\pP*)({'|'.join(words)})\.(\z|[^{ends}])"
    for _ in range(2):
        texts = tf.strings.regex_replace(texts, pattern, r"\1\2\3" + _PERIOD + r"\4")
    return texts


def split_sentences(
    texts: tf.Tensor, splitter: SentenceSplitter
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``nmt.sentences.SentenceSplitter.split`` for a batch ``texts`` ``(batch,)``: every
    text's sentences, in order ``(sentences,)``, the text each belongs to ``(sentences,)``
    int32, and what joins its translation to the one before (``""`` for a text's first, else
    ``" "`` or ``""`` as the source had whitespace or not) ``(sentences,)``."""
    marked = tf.strings.regex_replace(texts, "\x01", _ESCAPE)
    marked = _protect_abbreviations(marked, splitter)
    opening = "".join(rf"\p{{{c}}}" for c in OPENING_CATEGORIES) + _chars(OPENING)
    start = "".join(rf"\p{{{c}}}" for c in START_CATEGORIES)
    closing, space = _chars(CLOSING), _SPACE[1:-1]
    spaced = rf"([{_chars(ENDS)}]+[{closing}]*){_SPACE}+([{opening}]*[{start}])"
    marked = tf.strings.regex_replace(marked, spaced, r"\1" + _SPACED_CUT + r"\2")
    full = f"[{_chars(FULL_WIDTH)}]+[{closing}]*"
    marked = tf.strings.regex_replace(
        marked, rf"({full}){_SPACE}+([^{space}])", r"\1" + _SPACED_CUT + r"\2"
    )
    # not before a mark or closing bracket: the run of marks and brackets is the boundary's
    tight_next = f"[^{space}\\x01{_chars(FULL_WIDTH)}{closing}]"
    marked = tf.strings.regex_replace(
        marked, rf"({full})({tight_next})", r"\1" + _TIGHT_CUT + r"\2"
    )
    spaced_parts = tf.strings.split(marked, _SPACED_CUT)  # (batch, None)
    parts = tf.strings.split(spaced_parts.flat_values, _TIGHT_CUT)  # (spaced parts, None)
    sentences = parts.flat_values
    sentences = tf.strings.regex_replace(sentences, _PERIOD, ".")
    sentences = tf.strings.regex_replace(sentences, _ESCAPE, "\x01")
    # a sentence's place: first of its spaced part, first of its text
    spaced_of = tf.cast(parts.value_rowids(), tf.int32)
    text_of = tf.gather(tf.cast(spaced_parts.value_rowids(), tf.int32), spaced_of)
    index = tf.range(tf.size(sentences))
    first_of_part = tf.equal(index, tf.gather(tf.cast(parts.row_starts(), tf.int32), spaced_of))
    starts = tf.cast(spaced_parts.row_starts(), tf.int32)
    first_of_text = tf.logical_and(first_of_part, tf.equal(spaced_of, tf.gather(starts, text_of)))
    joiners = tf.where(first_of_text, "", tf.where(first_of_part, " ", ""))
    return sentences, text_of, joiners


def piece_boundaries(pieces: tf.RaggedTensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For SentencePiece ``pieces`` ``(batch, None)``: whether each opens a word, and whether
    it ends in sentence-final punctuation (``nmt.segment.SENTENCE_END``, trailing word marks
    aside), both ``(batch, width)`` bool, False past each row's end."""
    mark = _char(WORD_START)
    ends = "".join(_char(ch) for ch in SENTENCE_END)
    word_start = tf.strings.regex_full_match(pieces, f"(?s){mark}.*")
    sentence_end = tf.strings.regex_full_match(pieces, f"(?s).*[{ends}]{mark}*")
    return word_start.to_tensor(False), sentence_end.to_tensor(False)


def split_units(
    lengths: tf.Tensor, word_start: tf.Tensor, sentence_end: tf.Tensor, limit: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``nmt.segment.split_ids`` for a whole batch.

    ``lengths`` ``(batch,)`` int32; ``word_start``/``sentence_end`` ``(batch, width)`` bool:
    whether a source piece opens a word / ends in sentence-final punctuation (False past each
    row's end). Returns ``owner``, ``begin``, ``end`` ``(units,)`` int32: the pieces
    ``[begin, end)`` of input ``owner`` are translated as one unit, in input then piece order.
    Each cut goes after the last sentence end within ``limit`` pieces that a word start
    follows, else before the last word start, else at the limit; a row within the limit (an
    empty one too) is one unit.
    """
    batch = tf.shape(lengths)[0]
    offsets = tf.range(1, limit + 1)

    def body(start, owner, begin, end):
        rows = tf.cast(tf.where(lengths - start > limit)[:, 0], tf.int32)
        first = tf.gather(start, rows)
        # candidate cuts (rows, limit): all before the row's last piece, as the row is long
        cuts = first[:, None] + offsets[None, :]
        at = tf.stack([tf.broadcast_to(rows[:, None], tf.shape(cuts)), cuts], axis=-1)
        word = tf.gather_nd(word_start, at)
        after_end = tf.gather_nd(sentence_end, at - tf.constant([0, 1]))
        at_sentence = tf.reduce_max(tf.where(word & after_end, cuts, -1), axis=1)
        at_word = tf.reduce_max(tf.where(word, cuts, -1), axis=1)
        cut = tf.where(
            at_sentence >= 0, at_sentence, tf.where(at_word >= 0, at_word, first + limit)
        )
        start = tf.tensor_scatter_nd_update(start, rows[:, None], cut)
        return (
            start,
            tf.concat([owner, rows], 0),
            tf.concat([begin, first], 0),
            tf.concat([end, cut], 0),
        )

    none = tf.zeros([0], tf.int32)
    start, owner, begin, end = tf.while_loop(
        lambda start, *_: tf.reduce_any(lengths - start > limit),
        body,
        (tf.zeros([batch], tf.int32), none, none, none),
        shape_invariants=(tf.TensorShape([None]),) * 4,
    )
    owner = tf.concat([owner, tf.range(batch)], 0)
    begin = tf.concat([begin, start], 0)
    end = tf.concat([end, lengths], 0)
    # the cuts came out round by round: sort them by input, then position
    key = tf.cast(owner, tf.int64) * tf.cast(tf.reduce_max(lengths) + 1, tf.int64)
    order = tf.argsort(key + tf.cast(begin, tf.int64), stable=True)
    return tf.gather(owner, order), tf.gather(begin, order), tf.gather(end, order)


def batch_size_at(lengths: tf.Tensor, budget: int, max_sentences: int, padded: bool) -> tf.Tensor:
    """How many of ``lengths`` ``(rest,)`` (ascending, at least one) the next batch takes, as
    ``nmt.batching.budget_batches`` cuts them: at least one, at most ``max_sentences``, and
    within ``budget`` tokens (``batch * longest`` with ``padded``, else the sum)."""
    tokens = tf.range(1, tf.size(lengths) + 1) * lengths if padded else tf.cumsum(lengths)
    # lengths ascend, so the tokens do too: the ones within the budget are a prefix
    fits = tf.reduce_sum(tf.cast(tokens <= budget, tf.int32))
    return tf.clip_by_value(fits, 1, max_sentences)


class TranslationModule(tf.Module):
    """A ``Translator``'s 1-best translation as ``tf.function``s ``tf.string (batch,)`` ->
    ``tf.string (batch,)``, with everything it needs to be saved: the model's variables, the
    frozen decode tables (as variables, not graph constants) and the SentencePiece models."""

    def __init__(self, translator: Translator, beam_size: int | None = None):
        """``beam_size``: ``translate``'s (default: the model's ``decode.beam_size``);
        ``translate_greedy`` searches greedily."""
        super().__init__(name="nmt_translation")
        import tensorflow_text as tft

        self._translator = translator
        model = translator.model
        # the Keras variables' TensorFlow variables: what the traced search reads
        self.model_variables = [weight.value for weight in model.weights]
        tables = model.decode_tables(max_input_bytes=DECODE_TABLE_BYTES)
        self.decode_tables = {
            name: tf.Variable(value, trainable=False, name=f"decode_table_{name}")
            for name, value in tables.items()
        }
        src_path, tgt_path = translator.src_tokenizer.path, translator.tgt_tokenizer.path
        if src_path is None or tgt_path is None:
            raise ExportError("the translator's tokenizers were not loaded from files")
        # distinct names: the SentencePiece op's resource is shared by node name, and two
        # tokenizers of the default name would both read the first model once loaded
        self.src_sp = tft.SentencepieceTokenizer(model=Path(src_path).read_bytes(), name="src_sp")
        self.tgt_sp = (
            self.src_sp
            if Path(src_path) == Path(tgt_path)
            else tft.SentencepieceTokenizer(model=Path(tgt_path).read_bytes(), name="tgt_sp")
        )
        beam, greedy = translator.settings(beam_size=beam_size), translator.settings(beam_size=1)
        self.beam_size = beam.beam_size
        self.marks = translator.end_marks if beam.complete_end_mark else None
        self.splitter = translator.sentence_splitter if beam.split_sentences else None
        self.max_source_tokens = beam.max_source_tokens
        spec = [tf.TensorSpec([None], tf.string, name=INPUT_NAME)]
        self.translate = tf.function(
            lambda texts: {OUTPUT_NAME: self._translate(texts, beam)},
            input_signature=spec,
            autograph=False,  # explicit loops, as in nmt.search
        )
        self.translate_greedy = tf.function(
            lambda texts: {OUTPUT_NAME: self._translate(texts, greedy)},
            input_signature=spec,
            autograph=False,
        )

    def signatures(self) -> dict[str, Any]:
        return {
            "serving_default": self.translate.get_concrete_function(),
            "greedy": self.translate_greedy.get_concrete_function(),
        }

    def _translate(self, texts: tf.Tensor, settings: DecodeSettings) -> tf.Tensor:
        """``Translator.translate(texts, settings=settings)``: ``texts`` ``(batch,)`` ->
        ``(batch,)``."""
        added = None
        if self.marks is not None:
            texts, added = complete_end_marks(texts, self.marks.src)
        batch = tf.shape(texts)[0]
        if self.splitter is not None:
            sentences, text_of, joiners = split_sentences(texts, self.splitter)
        else:
            sentences, text_of, joiners = texts, tf.range(batch), tf.fill([batch], "")
        ids = self.src_sp.tokenize(sentences)  # (sentences, None) int32, no BOS/EOS
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        word_start, sentence_end = piece_boundaries(self.src_sp.id_to_string(ids))
        owner, begin, end = split_units(
            lengths, word_start, sentence_end, settings.max_source_tokens
        )
        starts = tf.cast(tf.gather(ids.row_starts(), owner), tf.int32)
        units = tf.gather(ids.flat_values, tf.ragged.range(starts + begin, starts + end))
        found = self._search_units(units, settings)
        # each text's units' translations joined, the empty ones left out: a sentence's first
        # unit after its sentence's joiner, a long sentence's further pieces after a space
        # (Translator's _join)
        kept = tf.where(tf.strings.length(found) > 0)[:, 0]
        glue = tf.gather(tf.where(begin == 0, tf.gather(joiners, owner), " "), kept)
        rows = tf.gather(tf.gather(text_of, owner), kept)  # ascending
        first = tf.not_equal(rows, tf.concat([[-1], rows[:-1]], 0))
        found = tf.gather(found, kept)
        pieces = tf.where(first, found, tf.strings.join([glue, found]))
        grouped = tf.RaggedTensor.from_value_rowids(pieces, rows, nrows=batch)
        out = tf.strings.reduce_join(grouped, axis=1)
        if added is not None:
            out = strip_end_marks(out, added, self.marks.tgt)
        return out

    def _search_units(self, units: tf.RaggedTensor, settings: DecodeSettings) -> tf.Tensor:
        """Translate the id lists ``units`` ``(units, None)`` in length-sorted token-budget
        batches, as ``Translator._translate_units``; returns their texts ``(units,)`` ("" for
        an empty unit)."""
        translator = self._translator
        packed = translator.executor.packed
        max_sentences = translator.batch_sentences(settings)
        tables = dict(self.decode_tables) or None
        lengths = tf.cast(units.row_lengths(), tf.int32)
        todo = tf.cast(tf.where(lengths > 0)[:, 0], tf.int32)
        todo = tf.gather(todo, tf.argsort(tf.gather(lengths, todo), stable=True))
        sorted_lengths = tf.gather(lengths, todo)
        count = tf.size(todo)

        def body(start, texts):
            size = batch_size_at(
                sorted_lengths[start:], settings.token_budget, max_sentences, not packed
            )
            index = todo[start : start + size]
            src = tf.gather(units, index).to_tensor(PAD_ID)  # right-padded as pad_batch
            result = search_graph(translator.model, src, settings.search, packed, tables)
            tokens = result.tokens[:, 0]
            # up to the first EOS or padding (Translator's _strip), without the special ids
            # that Tokenizer.decode drops
            running = tf.equal(
                tf.cumsum(tf.cast((tokens == EOS_ID) | (tokens == PAD_ID), tf.int32), axis=1), 0
            )
            kept = tf.ragged.boolean_mask(tokens, running & (tokens > EOS_ID))
            texts = texts.write(texts.size(), self.tgt_sp.detokenize(kept))
            return start + size, texts

        texts = tf.TensorArray(
            tf.string, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]
        )
        _, texts = tf.while_loop(lambda start, _: start < count, body, (tf.constant(0), texts))
        return tf.tensor_scatter_nd_update(
            tf.fill(tf.shape(lengths), ""), todo[:, None], texts.concat()
        )


def _require_tensorflow_text() -> None:
    try:
        import tensorflow_text  # noqa: F401
    except ImportError as err:
        raise ExportError(
            f"tensorflow-text is needed to export ({err}): pip install '.[export]' "
            "(or tensorflow-text matching TensorFlow " + tf.__version__ + ")"
        ) from err


def export_savedmodel(
    run_dir: str | Path, out_dir: str | Path, weights: str = "best", beam_size: int | None = None
) -> Path:
    """Write ``run_dir``'s SavedModel to ``out_dir``, a new or empty folder (an existing
    folder with anything in it is refused, never replaced). It is written into a temporary
    folder beside ``out_dir`` and renamed into place, so a failed export leaves nothing.
    ``beam_size``: ``serving_default``'s (default: the model's)."""
    if beam_size is not None and beam_size < 1:
        raise ExportError(f"beam size must be >= 1, got {beam_size}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(
            f"{out_dir} already exists and is not an empty folder: write to a new one "
            "(nothing was changed)"
        )
    _require_tensorflow_text()
    run_dir = resolve_run_dir(run_dir)
    config, model, src, tgt, metadata = load_run(run_dir, weights=weights)
    translator = Translator(
        model, src, tgt, config.decode, config=config, metadata=metadata, frozen=True, packed=True
    )
    module = TranslationModule(translator, beam_size)
    with atomic_folder(out_dir) as staging:
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        info = {
            "exported_from": run_dir.name,
            "weights": weights,
            "src_lang": metadata.get("src_lang"),
            "tgt_lang": metadata.get("tgt_lang"),
            "signatures": {
                "serving_default": {"beam_size": module.beam_size},
                "greedy": {"beam_size": 1},
            },
            "end_marks": module.marks.to_dict() if module.marks else None,
            "split_sentences": module.splitter is not None,
            "abbreviations": sorted(module.splitter.abbreviations) if module.splitter else [],
            "ordinals": bool(module.splitter and module.splitter.ordinals),
            "max_source_tokens": module.max_source_tokens,
            "tensorflow": tf.__version__,
        }
        (staging / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m nmt.savedmodel",
        description="Export a run directory (or shipped model name) as a TensorFlow SavedModel "
        "whose serving_default signature translates strings (beam search with the model's beam "
        "size) and whose greedy signature searches greedily.",
    )
    parser.add_argument("run_dir", help="run directory or shipped model name")
    parser.add_argument("out_dir", help="new or empty folder to write the SavedModel into")
    parser.add_argument("--weights", choices=("best", "last"), default="best")
    parser.add_argument(
        "--beam", type=int, help="serving_default's beam size (default: the model's)"
    )
    args = parser.parse_args(argv)
    status, out = write_folder(
        lambda: export_savedmodel(args.run_dir, args.out_dir, args.weights, args.beam),
        args.out_dir,
        (CheckpointError, ExportError),
    )
    if out is not None:
        print(f"exported {args.run_dir} -> {out} ({folder_megabytes(out):.1f} MB SavedModel)")
    return status


if __name__ == "__main__":
    sys.exit(main())
