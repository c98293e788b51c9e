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


def write_parallel(folder, name, pairs):
    """Two aligned files NAME.src / NAME.tgt; returns the 'SRC,TGT' corpus string."""
    src, tgt = folder / f"{name}.src", folder / f"{name}.tgt"
    src.write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    return f"{src},{tgt}"


def corpus_tsv(tmp_path, extra=()):
    rows = [(f"sentence {i}", f"frase {i}") for i in range(200)] + list(extra)
    path = tmp_path / "corpus.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    return str(path)


GIVEN_DEV = [
    ("Dev  one\u00a0here", "Uno  del dev"),  # spaces are normalised
    ("dev two", ""),  # unusable: dropped and counted
    ("dev three", "tres"),
    ("dev three", "tres"),  # a duplicate is kept: the set is used as given
    ("Ten chars.", "a much longer target than the source, far beyond the usual length ratio"),
]


def test_given_dev_and_test_are_used_as_given(tmp_path):
    dev = write_parallel(tmp_path, "dev", GIVEN_DEV)
    test = tmp_path / "test.tsv"
    test.write_text("test b\tprueba b\ntest a\tprueba a\n", encoding="utf-8")
    config = DataConfig(
        corpus=corpus_tsv(tmp_path),
        src_lang="a",
        tgt_lang="b",
        dev_corpus=dev,
        test_corpus=str(test),
        max_chars=20,
        dev_size=0,
    )
    data = prepare_data(config)
    assert [(p.row, p.src, p.tgt) for p in data.splits.dev] == [
        (0, "Dev one here", "Uno del dev"),
        (2, "dev three", "tres"),
        (3, "dev three", "tres"),
        (4, "Ten chars.", GIVEN_DEV[4][1]),  # neither max_chars nor the length ratio applies
    ]
    assert data.given["dev"].report.dropped == {"empty side": 1}
    assert [p.src for p in data.splits.test] == ["test b", "test a"]
    assert len(data.splits.train) == 200  # both parts given: the whole corpus trains
    assert data.leaks.leaking == data.leaks.removed == 0


def test_only_the_missing_part_is_split(tmp_path):
    dev = write_parallel(tmp_path, "dev", [("own dev", "propio")])
    corpus = corpus_tsv(tmp_path)
    data = prepare_data(
        DataConfig(corpus=corpus, src_lang="a", tgt_lang="b", dev_corpus=dev, test_size=20)
    )
    assert [p.src for p in data.splits.dev] == ["own dev"]
    assert len(data.splits.test) == 20 and len(data.splits.train) == 180
    assert set(data.given) == {"dev"}
    save_split(tmp_path / "split.json", data)
    saved = json.loads((tmp_path / "split.json").read_text())
    assert "dev_rows" not in saved
    assert saved["dev_given"]["corpus"] == dev and len(saved["dev_given"]["sha256"]) == 64
    assert saved["test_rows"] == [p.row for p in data.splits.test]
    test = write_parallel(tmp_path, "test", [("own test", "prueba")])
    data = prepare_data(
        DataConfig(corpus=corpus, src_lang="a", tgt_lang="b", test_corpus=test, dev_size=30)
    )
    assert [p.src for p in data.splits.test] == ["own test"]
    assert len(data.splits.dev) == 30 and len(data.splits.train) == 170


def test_no_given_set_keeps_the_split_file_as_it_was(tmp_path):
    corpus = corpus_tsv(tmp_path)
    data = prepare_data(DataConfig(corpus, "a", "b", dev_size=9, test_size=9))
    assert data.leaks is None and data.given == {}
    save_split(tmp_path / "split.json", data)
    saved = json.loads((tmp_path / "split.json").read_text())
    assert list(saved) == ["corpus", "sha256", "counts", "cleaning", "dev_rows", "test_rows"]


LEAKY = [
    ("SENTENCE 3!", "otra cosa"),  # shares the dev source 'sentence 3' (case, punctuation)
    ("something else", "frase 4"),  # shares the dev target 'frase 4'
    ("sentence 3", "frase 4"),  # shares both with dev, and the source with test
    ("unrelated", "Prueba 9."),  # shares the test target 'prueba 9'
]


def leaky_config(tmp_path, **extra):
    dev = write_parallel(tmp_path, "dev", [("sentence 3", "tres"), ("cuatro", "frase 4")])
    test = write_parallel(tmp_path, "test", [("Sentence 3.", "x"), ("y", "prueba 9")])
    rows = [(f"line {i}", f"linea {i}") for i in range(50)] + LEAKY
    path = tmp_path / "corpus.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    return DataConfig(
        corpus=str(path), src_lang="a", tgt_lang="b", dev_corpus=dev, test_corpus=test, **extra
    )


def test_leaks_are_counted_per_set_and_side_and_removed(tmp_path):
    data = prepare_data(leaky_config(tmp_path))
    dev, test = data.leaks.sets["dev"], data.leaks.sets["test"]
    assert (dev.src, dev.tgt, dev.either, dev.pairs) == (2, 2, 3, 2)
    assert (test.src, test.tgt, test.either, test.pairs) == (2, 1, 3, 2)
    assert data.leaks.leaking == data.leaks.removed == 4
    train = {(p.src, p.tgt) for p in data.splits.train}
    assert len(train) == 50 and not train & set(LEAKY)
    summary = data.leaks.summary()
    assert "4 leaking train pairs, 4 removed from training" in summary and "\n" not in summary
    record = data.leaks.to_dict()
    assert record["sets"]["dev"]["corpus"] == data.given["dev"].spec.name
    assert json.loads(json.dumps(record)) == record


def test_leaks_are_kept_without_remove_leaks(tmp_path):
    data = prepare_data(leaky_config(tmp_path, remove_leaks=False))
    assert data.leaks.leaking == 4 and data.leaks.removed == 0
    assert set(LEAKY) <= {(p.src, p.tgt) for p in data.splits.train}
    assert "4 kept (data.remove_leaks=false)" in data.leaks.summary()


def test_bad_given_sets_name_the_file(tmp_path):
    corpus = corpus_tsv(tmp_path)
    missing = f"{tmp_path / 'nope.src'},{tmp_path / 'nope.tgt'}"
    with pytest.raises(CorpusError, match=r"given dev set .*nope\.src"):
        prepare_data(DataConfig(corpus=corpus, src_lang="a", tgt_lang="b", dev_corpus=missing))
    uneven = write_parallel(tmp_path, "uneven", [("a", "b"), ("c", "d")])
    (tmp_path / "uneven.tgt").write_text("b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"given test set .*uneven\.src has 2 lines"):
        prepare_data(DataConfig(corpus=corpus, src_lang="a", tgt_lang="b", test_corpus=uneven))
    empty = write_parallel(tmp_path, "empty", [("a", " "), ("", "b")])
    with pytest.raises(CorpusError, match=r"given dev set .*empty\.src.*: no usable pair"):
        prepare_data(DataConfig(corpus=corpus, src_lang="a", tgt_lang="b", dev_corpus=empty))


def test_dev_size_may_be_zero_only_with_a_given_dev_set():
    from nmt.config import ConfigError, load_config

    assert load_config(None, ["data.dev_corpus=d.src,d.tgt", "data.dev_size=0"]).data.dev_size == 0
    with pytest.raises(ConfigError, match="dev_size"):
        load_config(None, ["data.dev_size=0"])
    with pytest.raises(ConfigError, match="remove_leaks"):
        load_config(None, ["data.remove_leaks=maybe"])
