"""File and pipe translation without a model: line repair, line splitting and counting,
chunking, one result per input line even when translating fails, and the repair summary."""

from __future__ import annotations

import io
from collections import Counter

from nmt.config import DecodeConfig
from nmt.decoding import DecodeSettings, decode_settings
from nmt.streaming import (
    chunks,
    count_lines,
    one_line,
    read_lines,
    repair_line,
    repair_summary,
    translate_lines,
)
from nmt.translator import Hypothesis


class FakeTranslator:
    """Upper-cases its inputs; a batch holding ``"boom"`` raises. Records the batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def settings(self, **overrides) -> DecodeSettings:
        return decode_settings(DecodeConfig(), 100, **overrides)

    def translate_detailed(self, texts, stats=None, settings=None):
        self.batches.append(len(texts))
        if "boom" in texts:
            raise RuntimeError("the model failed")
        return [[Hypothesis(text.upper(), [], -1.0, -1.0)] * settings.n_best for text in texts]


def test_repair_line_counts_what_it_fixes():
    stats: Counter = Counter()
    assert repair_line(b"  hello\tworld  ", stats) == "hello world"
    assert repair_line(b"bad \xff byte", stats) == "bad \ufffd byte"
    assert repair_line(b"bell\x07 and\x00 nul\x1b", stats) == "bell and nul"
    assert repair_line("zero\u200bwidth\u00a0space".encode(), stats) == "zerowidth space"
    assert repair_line(b"\x1b[1;31mred\x1b[0m text\x1b]0;title\x07", stats) == "red text"
    assert repair_line(b" \t ", stats) == ""
    assert repair_line(b"", stats) == ""
    assert stats == Counter(invalid_utf8=1, control_chars=3, blank=2)
    summary = repair_summary(stats)
    assert "2 blank" in summary and "1 line(s) with invalid UTF-8" in summary
    assert repair_summary(Counter()) is None


def test_read_lines_splits_on_newline_only(tmp_path):
    data = b"a\r\nb\rc\n\nd\x85e\xe2\x80\xa8f"  # CR, NEL, LINE SEPARATOR are not line ends
    assert list(read_lines(io.BytesIO(data))) == [b"a", b"b\rc", b"", b"d\x85e\xe2\x80\xa8f"]
    path = tmp_path / "x.txt"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        assert count_lines(handle) == 4
        assert handle.read() == data  # rewound
    assert count_lines(io.BytesIO(data)) is None


def test_repair_line_normalises_to_nfc_and_folds_unicode_spaces():
    stats: Counter = Counter()
    assert repair_line("cafe\u0301".encode(), stats) == "caf\u00e9"
    assert repair_line("a\u2003b\u2028c\u3000 d".encode(), stats) == "a b c d"
    assert repair_line("\ufeffbom".encode(), stats) == "bom"  # a BOM is a format character
    assert stats == Counter(control_chars=1)


def test_count_lines_counts_a_last_unterminated_line_and_rewinds(tmp_path):
    for data, want in ((b"", 0), (b"\n", 1), (b"a\nb", 2), (b"a\nb\n", 2), (b"\n\n\n", 3)):
        path = tmp_path / "x.txt"
        path.write_bytes(data)
        with open(path, "rb") as handle:
            assert count_lines(handle) == want, data
            assert handle.tell() == 0
    path.write_bytes(b"head\nx\ny")
    with open(path, "rb") as handle:
        handle.readline()  # counting starts where the stream is
        assert count_lines(handle) == 2
        assert handle.read() == b"x\ny"


def test_chunks_keep_order_and_size():
    lines = [bytes([c]) for c in b"abcdefg"]
    assert [len(c) for c in chunks(lines, 3)] == [3, 3, 1]
    assert sum(chunks(lines, 3), []) == lines
    assert list(chunks([], 3)) == []


def test_translate_lines_gives_one_result_per_line_in_order():
    translator, stats = FakeTranslator(), Counter()
    lines = [b"one", b" two\t", b"", b"three", b"four", b"five"]
    settings = translator.settings(n_best=2)
    results = list(translate_lines(translator, lines, stats, settings, chunk_lines=4))
    assert [src for src, _ in results] == ["one", "two", "", "three", "four", "five"]
    assert [[h.text for h in hyps] for _, hyps in results][:2] == [["ONE"] * 2, ["TWO"] * 2]
    assert translator.batches == [4, 2]  # chunks of at most 4 lines
    assert stats == Counter(blank=1)


def test_a_failing_chunk_is_retried_line_by_line():
    translator, stats = FakeTranslator(), Counter()
    results = list(translate_lines(translator, [b"a", b"boom", b"c"], stats, chunk_lines=10))
    assert [hyps[0].text for _, hyps in results] == ["A", "", "C"]
    assert translator.batches == [3, 1, 1, 1]
    assert stats["failed"] == 1
    assert "1 line(s) that failed to translate" in repair_summary(stats)


def test_one_line_joins_line_breaks():
    assert one_line("a\nb\r\nc\u2028d") == "a b c d"
    assert one_line("") == ""


def test_repair_summary_reports_split_lines():
    summary = repair_summary(Counter(split_lines=2, split_pieces=5))
    assert summary == "input: 2 over-long line(s) split into 5 pieces and joined"
