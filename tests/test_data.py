"""Corpus reading, cleaning and the leak-free split."""

import json

import pytest

from corpora import CorpusError, resolve_corpus
from nmt.config import DataConfig
from nmt.data import (
    CleaningReport,
    Pair,
    clean_pairs,
    connected_groups,
    normalize_text,
    prepare_data,
    save_split,
    split_pairs,
)


def test_normalize_spaces_and_controls():
    assert normalize_text("Bonjour\u202f!\u00a0Ça  va\x07 ?") == "Bonjour ! Ça va ?"
    assert normalize_text("Cafe\u0301") == "Café"  # NFC
    assert normalize_text("\ufeff  x \t y ") == "x y"


def test_clean_drops_bad_pairs():
    config = DataConfig(max_chars=100, max_length_ratio=3.0)
    rows = [
        (0, "Hello there.", "Hola."),
        (1, "   ", "Vacío"),
        (2, "x" * 120, "y"),
        (3, "A short one here", "Una frase larguísima que no corresponde a la otra en absoluto"),
        (4, "Hello there.", "Hola."),
        (5, "bad \ufffd byte", "malo"),
    ]
    report = CleaningReport(rows=len(rows))
    pairs = clean_pairs(rows, config, report)
    assert [p.row for p in pairs] == [0]
    assert report.dropped["empty side"] == 1
    assert report.dropped["duplicate pair"] == 1
    assert report.dropped["length ratio"] == 1
    assert report.dropped["invalid UTF-8"] == 1


def test_groups_link_shared_sentences():
    pairs = [
        Pair(0, "Go.", "Ve."),
        Pair(1, "Go!", "Vete."),
        Pair(2, "Run.", "Vete."),
        Pair(3, "Hi.", "Hola."),
    ]
    groups = sorted(sorted(g) for g in connected_groups(pairs))
    assert groups == [[0, 1, 2], [3]]  # "Go." ~ "Go!" (punctuation ignored), "Vete." shared


def test_split_is_leak_free_and_deterministic():
    pairs = []
    for i in range(400):
        pairs.append(Pair(len(pairs), f"sentence {i}", f"frase {i}"))
        if i % 3 == 0:  # a second translation of the same source
            pairs.append(Pair(len(pairs), f"sentence {i}", f"oración {i}"))
    a = split_pairs(pairs, dev_size=40, test_size=40, seed=7)
    b = split_pairs(pairs, dev_size=40, test_size=40, seed=7)
    assert [p.row for p in a.test] == [p.row for p in b.test]
    assert 35 <= len(a.test) <= 40 and 35 <= len(a.dev) <= 40
    assert len(a.train) + len(a.dev) + len(a.test) == len(pairs)
    train_src = {p.src for p in a.train}
    train_tgt = {p.tgt for p in a.train}
    for p in a.dev + a.test:
        assert p.src not in train_src and p.tgt not in train_tgt
    assert not {p.src for p in a.dev} & {p.src for p in a.test}
    c = split_pairs(pairs, dev_size=40, test_size=40, seed=8)
    assert [p.row for p in c.test] != [p.row for p in a.test]


def test_split_too_small_corpus():
    pairs = [Pair(i, f"a{i}", f"b{i}") for i in range(10)]
    with pytest.raises(CorpusError, match="too few"):
        split_pairs(pairs, dev_size=5, test_size=5, seed=1)


def test_tsv_with_malformed_lines_and_invalid_utf8(tmp_path):
    path = tmp_path / "c.tsv"
    lines = [f"source {i}\ttarget {i}\n".encode() for i in range(50)]
    lines[3] = b"no tab here\n"
    lines[5] = b"bad \xff\xfe bytes\ttarget\n"
    path.write_bytes(b"".join(lines))
    config = DataConfig(corpus=str(path), src_lang="a", tgt_lang="b", dev_size=5, test_size=5)
    data = prepare_data(config)
    assert data.report.rows == 50
    assert data.report.dropped["malformed line (too few tab-separated columns)"] == 1
    assert data.report.dropped["invalid UTF-8"] == 1
    total = sum(len(getattr(data.splits, k)) for k in ("train", "dev", "test"))
    assert total == 48
    save_split(tmp_path / "split.json", data)
    saved = json.loads((tmp_path / "split.json").read_text())
    assert sorted(saved["test_rows"]) == sorted(p.row for p in data.splits.test)
    assert saved["sha256"] == data.fingerprint and len(saved["sha256"]) == 64


def test_parallel_files(tmp_path):
    src, tgt = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("".join(f"uno {i}\n" for i in range(30)))
    tgt.write_text("".join(f"one {i}\n" for i in range(30)))
    config = DataConfig(
        corpus=f"{src},{tgt}", src_lang="es", tgt_lang="en", dev_size=3, test_size=3
    )
    data = prepare_data(config)
    pair = data.splits.train[0]
    assert pair.src.startswith("uno") and pair.tgt.startswith("one")
    tgt.write_text("one\n")
    with pytest.raises(CorpusError, match="differ in length"):
        prepare_data(config)


def test_hub_dataset_from_local_stand_in(tmp_path):
    folder = tmp_path / "hub-standin"
    folder.mkdir()
    rows = [{"translation": {"en": f"house {i}", "de": f"Haus {i}"}} for i in range(40)]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = DataConfig(
        corpus=f"hf:{folder}", src_lang="de", tgt_lang="en", dev_size=4, test_size=4
    )
    data = prepare_data(config)
    assert data.spec.kind == "hub"
    assert all(p.src.startswith("Haus") and p.tgt.startswith("house") for p in data.splits.train)
    bad = DataConfig(corpus=f"hf:{folder}", src_lang="fr", tgt_lang="en", dev_size=4, test_size=4)
    with pytest.raises(CorpusError, match="languages"):
        prepare_data(bad)


def test_unknown_corpus_message():
    with pytest.raises(CorpusError, match="unknown corpus"):
        resolve_corpus("no-such-corpus")


def test_catalogue_corpus_swaps_columns(shared_corpora):
    config = DataConfig(
        corpus="tatoeba-vie-eng",
        src_lang="vi",
        tgt_lang="en",
        data_dir=str(shared_corpora),
        dev_size=200,
        test_size=200,
    )
    data = prepare_data(config)
    assert data.spec.attribution.startswith("Tatoeba")
    english = {p.tgt for p in data.splits.train[:200]}
    assert any(text.startswith(("I ", "Tom ", "The ")) for text in english)
    with pytest.raises(CorpusError, match="holds languages"):
        prepare_data(
            DataConfig(
                corpus="tatoeba-vie-eng", src_lang="fr", tgt_lang="en", data_dir=str(shared_corpora)
            )
        )
