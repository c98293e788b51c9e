"""Reading parallel corpora through ``datasets``, cleaning them, and splitting them leak-free."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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

    if not os.path.isfile(path):
        raise CorpusError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        return []  # datasets cannot build a dataset from an empty file
    try:
        dataset = datasets.load_dataset(
            "text",
            data_files={"train": path},
            split="train",
            encoding_errors="replace",
        )
    except Exception as err:  # datasets wraps read errors in its own types
        cause = err.__cause__ or err
        raise CorpusError(f"{path}: cannot read it as text ({cause})") from err
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


def normalize_pair(src: str, tgt: str, lowercase: bool) -> tuple[str, str, str]:
    """Both sides normalised, and why the row cannot be used at all ('' when it can)."""
    if "\ufffd" in src or "\ufffd" in tgt:
        return src, tgt, "invalid UTF-8"
    src, tgt = normalize_text(src, lowercase), normalize_text(tgt, lowercase)
    if not src or not tgt:
        return src, tgt, "empty side"
    return src, tgt, ""


def clean_pairs(
    rows: list[tuple[int, str, str]], config: DataConfig, report: CleaningReport
) -> list[Pair]:
    """Normalise and filter pairs: empty sides, over-long sides, bad length ratios, duplicates."""
    seen: set[tuple[str, str]] = set()
    pairs = []
    for row, src, tgt in rows:
        src, tgt, unusable = normalize_pair(src, tgt, config.lowercase)
        if unusable:
            report.dropped[unusable] += 1
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
    needs goes to train. Dev and test get at most ``dev_size`` / ``test_size`` pairs; a size
    of 0 makes no such part (it was given by the user).
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
class GivenSet:
    """A dev or test set the user gave: its pairs in file order, only unusable rows dropped."""

    spec: CorpusSpec
    pairs: list[Pair]
    report: CleaningReport
    fingerprint: str


def read_given_set(corpus: str, part: str, config: DataConfig) -> GivenSet:
    """Read a given ``part`` ("dev" or "test") set as it is: normalised, never filtered."""
    where = f"given {part} set (--{part} / data.{part}_corpus)"
    report = CleaningReport()
    try:
        spec = resolve_corpus(corpus, config.data_dir)
        rows = read_raw_pairs(spec, config, report)
    except CorpusError as err:
        raise CorpusError(f"{where}: {err}") from err
    pairs = []
    for row, src, tgt in rows:
        src, tgt, unusable = normalize_pair(src, tgt, config.lowercase)
        if unusable:
            report.dropped[unusable] += 1
        else:
            pairs.append(Pair(row, src, tgt))
    report.kept = len(pairs)
    if not pairs:
        raise CorpusError(f"{where} {spec.name}: no usable pair ({report.summary()})")
    fingerprint = file_fingerprint(spec.paths) if spec.kind != "hub" else ""
    return GivenSet(spec, pairs, report, fingerprint)


@dataclass
class SetLeaks:
    """Training pairs that share a sentence with one given set."""

    corpus: str
    pairs: int  # usable pairs in the given set
    unusable: int  # rows of the given set dropped as unusable
    src: int = 0  # training pairs whose source occurs among the set's sources
    tgt: int = 0  # ... whose target occurs among its targets
    either: int = 0  # ... sharing one side or both


@dataclass
class LeakReport:
    """Training pairs found in the given dev/test sets, and how many were removed."""

    sets: dict[str, SetLeaks]
    leaking: int = 0  # training pairs that share a sentence with any given set
    removed: int = 0  # of those, removed from training (all of them with data.remove_leaks)

    def summary(self) -> str:
        parts = [
            f"{name} {s.corpus}: {s.pairs} pairs as given ({s.unusable} unusable rows dropped), "
            f"train pairs sharing its source {s.src}, target {s.tgt}, either {s.either}"
            for name, s in self.sets.items()
        ]
        kept = self.leaking - self.removed
        fate = f"{self.removed} removed from training" + (
            f", {kept} kept (data.remove_leaks=false)" if kept else ""
        )
        return "; ".join(parts) + f"; {self.leaking} leaking train pairs, {fate}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def filter_leaks(
    train: list[Pair], given: dict[str, GivenSet], remove: bool
) -> tuple[list[Pair], LeakReport]:
    """Count training pairs sharing a source or target with a given set; drop them if ``remove``.

    Sentences are compared by ``_group_key``, as the group split compares them.
    """
    report = LeakReport(sets={})
    leaking = [False] * len(train)
    for name, part in given.items():
        src_keys = {_group_key(p.src) for p in part.pairs}
        tgt_keys = {_group_key(p.tgt) for p in part.pairs}
        counts = SetLeaks(part.spec.name, len(part.pairs), sum(part.report.dropped.values()))
        for i, pair in enumerate(train):
            in_src, in_tgt = _group_key(pair.src) in src_keys, _group_key(pair.tgt) in tgt_keys
            counts.src += in_src
            counts.tgt += in_tgt
            counts.either += in_src or in_tgt
            leaking[i] = leaking[i] or in_src or in_tgt
        report.sets[name] = counts
    report.leaking = sum(leaking)
    if not remove:
        return train, report
    report.removed = report.leaking
    return [p for p, leak in zip(train, leaking) if not leak], report


@dataclass
class PreparedData:
    splits: Splits
    spec: CorpusSpec
    report: CleaningReport
    fingerprint: str
    given: dict[str, GivenSet] = field(default_factory=dict)  # "dev"/"test" the user gave
    leaks: LeakReport | None = None  # None when no dev/test set was given


def read_given_sets(config: DataConfig) -> dict[str, GivenSet]:
    """The dev and test sets named in ``config`` (either, both or none)."""
    corpora = {"dev": config.dev_corpus, "test": config.test_corpus}
    return {part: read_given_set(c, part, config) for part, c in corpora.items() if c}


def prepare_data(config: DataConfig) -> PreparedData:
    """Resolve, read, clean and split the corpus named in ``config``.

    A given dev or test set is used as it is; the random split makes only the other part, and
    training pairs that share a sentence with a given set are counted (and removed).
    """
    if not config.src_lang or not config.tgt_lang:
        raise CorpusError("data.src_lang and data.tgt_lang must be set (--src / --tgt)")
    given = read_given_sets(config)  # first: a bad dev/test file fails before a long read
    spec = resolve_corpus(config.corpus, config.data_dir)
    report = CleaningReport()
    rows = read_raw_pairs(spec, config, report)
    pairs = clean_pairs(rows, config, report)
    if config.max_pairs is not None and len(pairs) > config.max_pairs:
        keep = sorted(random.Random(config.split_seed).sample(range(len(pairs)), config.max_pairs))
        pairs = [pairs[i] for i in keep]
    dev_size = 0 if "dev" in given else config.dev_size
    test_size = 0 if "test" in given else config.test_size
    splits = split_pairs(pairs, dev_size, test_size, config.split_seed)
    leaks = None
    if given:
        splits.train, leaks = filter_leaks(splits.train, given, config.remove_leaks)
        if not splits.train:
            raise CorpusError(
                f"no training pairs left: all {leaks.leaking} share a sentence with the given "
                "dev/test set(s)"
            )
        splits.dev = given["dev"].pairs if "dev" in given else splits.dev
        splits.test = given["test"].pairs if "test" in given else splits.test
    fingerprint = file_fingerprint(spec.paths) if spec.kind != "hub" else ""
    return PreparedData(splits, spec, report, fingerprint, given, leaks)


def save_split(path: Path, data: PreparedData) -> None:
    """Record which raw rows went to dev and test, so evaluation is reproducible.

    A given dev/test set is recorded by its corpus string and sha256 instead of rows.
    """
    payload = {
        "corpus": data.spec.name,
        "sha256": data.fingerprint,
        "counts": {k: len(getattr(data.splits, k)) for k in ("train", "dev", "test")},
        "cleaning": data.report.summary(),
    }
    for part in ("dev", "test"):
        if part in data.given:
            payload[f"{part}_given"] = given_record(data.given[part])
        else:
            payload[f"{part}_rows"] = [p.row for p in getattr(data.splits, part)]
    atomic_write_text(path, json.dumps(payload))


def given_record(given: GivenSet) -> dict:
    """How split.json names a given dev/test set."""
    return {
        "corpus": given.spec.name,
        "sha256": given.fingerprint,
        "cleaning": given.report.summary(),
    }


def load_split_rows(path: Path) -> dict:
    """Read a split file written by ``save_split``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
