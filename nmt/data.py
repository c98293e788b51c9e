"""Reading parallel corpora through ``datasets``, cleaning them, and splitting them leak-free."""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from corpora import CorpusError, CorpusSpec, resolve_corpus
from nmt.config import DataConfig
from nmt.io import atomic_write_text

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\ufeff]")
_SPACES = re.compile(r"\s+")


@dataclass
class Pair:
    """One sentence pair and the row it came from in the raw corpus."""

    row: int
    src: str
    tgt: str


@dataclass
class CleaningReport:
    """How many rows were read and why rows were dropped."""

    rows: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items())) or "none"
        return f"{self.rows} rows read, {self.kept} kept; dropped: {reasons}"


def normalize_text(text: str, lowercase: bool = False) -> str:
    """NFC-normalise, map every Unicode space (no-break spaces too) to ' ', drop control chars."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip()
    return text.lower() if lowercase else text


def _read_text_lines(path: str) -> list[str]:
    """Read a UTF-8 text file line by line through ``datasets`` (bad bytes are replaced)."""
    import datasets

    dataset = datasets.load_dataset(
        "text",
        data_files={"train": path},
        split="train",
        encoding_errors="replace",
    )
    return dataset["text"]


def _read_hub(spec: CorpusSpec, config: DataConfig) -> list[tuple[int, str, str]]:
    import datasets

    try:
        dataset = datasets.load_dataset(spec.paths[0], config.hf_config, split=config.hf_split)
    except Exception as err:  # datasets raises many types (network, missing files, bad config)
        raise CorpusError(f"cannot load hub dataset {spec.paths[0]!r}: {err}") from err
    src, tgt = config.src_lang, config.tgt_lang
    columns = dataset.column_names
    if "translation" in columns:
        rows = dataset["translation"]
        if rows and (src not in rows[0] or tgt not in rows[0]):
            raise CorpusError(
                f"hub dataset {spec.paths[0]!r}: translation has languages {sorted(rows[0])}, "
                f"not {src!r} and {tgt!r}"
            )
        return [(i, r[src] or "", r[tgt] or "") for i, r in enumerate(rows)]
    if src in columns and tgt in columns:
        return [(i, s or "", t or "") for i, (s, t) in enumerate(zip(dataset[src], dataset[tgt]))]
    raise CorpusError(
        f"hub dataset {spec.paths[0]!r}: no 'translation' column and no {src!r}/{tgt!r} columns "
        f"(columns: {columns})"
    )


def read_raw_pairs(
    spec: CorpusSpec, config: DataConfig, report: CleaningReport
) -> list[tuple[int, str, str]]:
    """Return (row, src, tgt) for every row of the corpus, in file order."""
    src_lang, tgt_lang = config.src_lang, config.tgt_lang
    if spec.kind == "hub":
        rows = _read_hub(spec, config)
        report.rows = len(rows)
        return rows
    if spec.kind == "parallel":
        src_lines = _read_text_lines(spec.paths[0])
        tgt_lines = _read_text_lines(spec.paths[1])
        if len(src_lines) != len(tgt_lines):
            raise CorpusError(
                f"parallel files differ in length: {spec.paths[0]} has {len(src_lines)} lines, "
                f"{spec.paths[1]} has {len(tgt_lines)}"
            )
        report.rows = len(src_lines)
        return [(i, s, t) for i, (s, t) in enumerate(zip(src_lines, tgt_lines))]
    # TSV
    if spec.columns is not None:
        missing = [lang for lang in (src_lang, tgt_lang) if lang not in spec.columns]
        if missing:
            raise CorpusError(
                f"corpus {spec.name!r} holds languages {list(spec.columns)}, not {missing}"
            )
        src_col, tgt_col = spec.columns.index(src_lang), spec.columns.index(tgt_lang)
    else:
        src_col, tgt_col = 0, 1
    need = max(src_col, tgt_col) + 1
    rows = []
    lines = _read_text_lines(spec.paths[0])
    report.rows = len(lines)
    for i, line in enumerate(lines):
        cells = line.split("\t")
        if len(cells) < need:
            report.dropped["malformed line (too few tab-separated columns)"] += 1
            continue
        rows.append((i, cells[src_col], cells[tgt_col]))
    return rows


def clean_pairs(
    rows: list[tuple[int, str, str]], config: DataConfig, report: CleaningReport
) -> list[Pair]:
    """Normalise and filter pairs: empty sides, over-long sides, bad length ratios, duplicates."""
    seen: set[tuple[str, str]] = set()
    pairs = []
    for row, src, tgt in rows:
        if "\ufffd" in src or "\ufffd" in tgt:
            report.dropped["invalid UTF-8"] += 1
            continue
        src = normalize_text(src, config.lowercase)
        tgt = normalize_text(tgt, config.lowercase)
        if not src or not tgt:
            report.dropped["empty side"] += 1
            continue
        if len(src) > config.max_chars or len(tgt) > config.max_chars:
            report.dropped[f"longer than {config.max_chars} chars"] += 1
            continue
        short, long_ = sorted((len(src), len(tgt)))
        if short >= 10 and long_ / short > config.max_length_ratio:
            report.dropped["length ratio"] += 1
            continue
        if (src, tgt) in seen:
            report.dropped["duplicate pair"] += 1
            continue
        seen.add((src, tgt))
        pairs.append(Pair(row, src, tgt))
    report.kept = len(pairs)
    return pairs


def _group_key(text: str) -> str:
    """Sentences that differ only in case, spacing or punctuation count as the same sentence."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def connected_groups(pairs: list[Pair]) -> list[list[int]]:
    """Group pair indices linked through a shared source or a shared target sentence."""
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        for key in (("s", _group_key(pair.src)), ("t", _group_key(pair.tgt))):
            j = first_seen.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pairs)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


@dataclass
class Splits:
    train: list[Pair]
    dev: list[Pair]
    test: list[Pair]


def split_pairs(pairs: list[Pair], dev_size: int, test_size: int, seed: int) -> Splits:
    """Split by connected sentence group so that no sentence of dev/test appears in train.

    Groups are shuffled with ``seed`` and taken whole; a group larger than what a split still
    needs goes to train. Dev and test get at most ``dev_size`` / ``test_size`` pairs.
    """
    groups = connected_groups(pairs)
    groups.sort(key=lambda g: g[0])
    random.Random(seed).shuffle(groups)
    if dev_size + test_size >= len(pairs):
        raise CorpusError(
            f"corpus has {len(pairs)} usable pairs: too few for dev_size={dev_size} and "
            f"test_size={test_size}"
        )
    test, dev, train = [], [], []
    for group in groups:
        if len(test) + len(group) <= test_size:
            test.extend(group)
        elif len(dev) + len(group) <= dev_size:
            dev.extend(group)
        else:
            train.extend(group)
    train.sort()
    return Splits(
        train=[pairs[i] for i in train],
        dev=[pairs[i] for i in sorted(dev)],
        test=[pairs[i] for i in sorted(test)],
    )


def file_fingerprint(paths: tuple[str, ...]) -> str:
    """sha256 over the corpus files (empty for hub corpora)."""
    digest = hashlib.sha256()
    for path in paths:
        if Path(path).is_file():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


@dataclass
class PreparedData:
    splits: Splits
    spec: CorpusSpec
    report: CleaningReport
    fingerprint: str


def prepare_data(config: DataConfig) -> PreparedData:
    """Resolve, read, clean and split the corpus named in ``config``."""
    if not config.src_lang or not config.tgt_lang:
        raise CorpusError("data.src_lang and data.tgt_lang must be set (--src / --tgt)")
    spec = resolve_corpus(config.corpus, config.data_dir)
    report = CleaningReport()
    rows = read_raw_pairs(spec, config, report)
    pairs = clean_pairs(rows, config, report)
    if config.max_pairs is not None and len(pairs) > config.max_pairs:
        keep = sorted(random.Random(config.split_seed).sample(range(len(pairs)), config.max_pairs))
        pairs = [pairs[i] for i in keep]
    splits = split_pairs(pairs, config.dev_size, config.test_size, config.split_seed)
    fingerprint = file_fingerprint(spec.paths) if spec.kind != "hub" else ""
    return PreparedData(splits, spec, report, fingerprint)


def save_split(path: Path, data: PreparedData) -> None:
    """Record which raw rows went to dev and test, so evaluation is reproducible."""
    payload = {
        "corpus": data.spec.name,
        "sha256": data.fingerprint,
        "counts": {k: len(getattr(data.splits, k)) for k in ("train", "dev", "test")},
        "cleaning": data.report.summary(),
        "dev_rows": [p.row for p in data.splits.dev],
        "test_rows": [p.row for p in data.splits.test],
    }
    atomic_write_text(path, json.dumps(payload))


def load_split_rows(path: Path) -> dict:
    """Read a split file written by ``save_split``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
