"""File and pipe translation: read in chunks, repair bad input, keep exactly one result per line.

Lines are split on ``\\n`` only (``\\r\\n`` endings are accepted), so the output always has as
many lines as ``wc -l`` plus a final unterminated line counts in the input.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from nmt.decoding import DecodeSettings
from nmt.translator import Hypothesis, Translator

_SPACES = re.compile(r"\s+")
# terminal escape sequences (colours, cursor moves, titles): dropped whole, not just their ESC
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def repair_line(raw: bytes, stats: Counter) -> str:
    """Decode one input line (no newline) to clean text, counting what had to be repaired.

    Invalid UTF-8 is replaced by U+FFFD, terminal escape sequences and control and format
    characters (zero-width, BOM) are dropped, tabs and every Unicode space become one space,
    and the text is NFC-normalised. Blank lines give ``""``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        stats["invalid_utf8"] += 1
    text, escapes = _ESCAPES.subn("", text)
    kept, dropped = [], escapes > 0
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "\t" or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category in ("Cc", "Cf"):
            dropped = True
        else:
            kept.append(ch)
    if dropped:
        stats["control_chars"] += 1
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", "".join(kept))).strip()
    if not text:
        stats["blank"] += 1
    return text


def read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of a binary stream without their ``\\n`` / ``\\r\\n`` ending."""
    for line in stream:
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        yield line


def count_lines(stream: BinaryIO) -> int | None:
    """Number of lines of a regular file (read through, then rewound), else None."""
    try:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        start = stream.tell()
    except (OSError, AttributeError, ValueError):
        return None
    count, last = 0, b"\n"
    while block := stream.read(1 << 20):
        count += block.count(b"\n")
        last = block[-1:]
    stream.seek(start)
    return count + (last != b"\n")


def chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    """Consecutive lists of at most ``size`` lines."""
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def translate_lines(
    translator: Translator,
    lines: Iterable[bytes],
    stats: Counter,
    settings: DecodeSettings | None = None,
    chunk_lines: int = 4000,
) -> Iterator[tuple[str, list[Hypothesis]]]:
    """Yield ``(repaired source, hypotheses)`` for every input line, in input order.

    Each chunk of ``chunk_lines`` lines is translated in length-sorted batches, so memory stays
    bounded whatever the input size. If a chunk fails, its lines are retried one by one, and a
    line that still fails gives an empty translation (counted in ``stats["failed"]``).
    """
    options = {"settings": settings or translator.settings()}
    for chunk in chunks(lines, chunk_lines):
        texts = [repair_line(raw, stats) for raw in chunk]
        try:
            results = translator.translate_detailed(texts, stats=stats, **options)
        except Exception:  # one bad chunk must not stop a long run
            results = [_one(translator, text, stats, options) for text in texts]
        yield from zip(texts, results)


def _one(translator: Translator, text: str, stats: Counter, options: dict) -> list[Hypothesis]:
    try:
        return translator.translate_detailed([text], stats=stats, **options)[0]
    except Exception:  # a line that cannot be translated gives an empty line
        stats["failed"] += 1
        return [Hypothesis("", [], 0.0, 0.0)]


def one_line(text: str) -> str:
    """``text`` with any line break turned into a space (output stays one line per input)."""
    return " ".join(text.splitlines()) if text else ""


def repair_summary(stats: Counter) -> str | None:
    """A sentence about what was repaired in the input, or None when nothing was."""
    parts = []
    labels = (
        ("blank", "blank line(s) (empty output lines)"),
        ("invalid_utf8", "line(s) with invalid UTF-8 (replaced by U+FFFD)"),
        ("control_chars", "line(s) with control characters (dropped)"),
        ("failed", "line(s) that failed to translate (empty output lines)"),
    )
    for key, label in labels:
        if stats.get(key):
            parts.append(f"{stats[key]} {label}")
    if stats.get("split_lines"):
        parts.append(
            f"{stats['split_lines']} over-long line(s) split into {stats['split_pieces']} pieces "
            "and joined"
        )
    return "input: " + "; ".join(parts) if parts else None
