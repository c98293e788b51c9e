"""SavedModel export: loaded where nmt cannot be imported, it translates as Translator does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow_text")

import tensorflow as tf  # noqa: E402
from conftest import REPO, WORDS, reverse_pairs  # noqa: E402

from nmt.batching import budget_batches  # noqa: E402
from nmt.end_marks import EndMarks  # noqa: E402
from nmt.savedmodel import (  # noqa: E402
    batch_size_at,
    complete_end_marks,
    export_savedmodel,
    main,
    piece_boundaries,
    split_sentences,
    split_units,
    strip_end_marks,
)
from nmt.segment import split_ids  # noqa: E402
from nmt.sentences import SentenceSplitter  # noqa: E402
from nmt.translator import Translator  # noqa: E402

# Run in a fresh interpreter in isolated mode (-I: no PYTHONPATH, no script folder on the
# path) from a temporary folder; nmt is blocked as well, in case it is installed: the export
# must need TensorFlow and tensorflow-text only.
LOADER = """
import json, sys
sys.modules["nmt"] = None
try:
    import nmt
except ImportError:
    pass
else:
    sys.exit("nmt was importable")
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops

loaded = tf.saved_model.load(sys.argv[1])
texts = json.loads(open(sys.argv[2], encoding="utf-8").read())
out = {}
for name in ("serving_default", "greedy"):
    found = loaded.signatures[name](inputs=tf.constant(texts, tf.string))["translations"]
    out[name] = [t.decode("utf-8") for t in found.numpy()]
print(json.dumps(out))
"""


def load_and_translate(export: Path, texts: list[str], tmp_path: Path) -> dict[str, list[str]]:
    """Both signatures' translations of ``texts``, from a process that cannot import nmt."""
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(texts), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", "-c", LOADER, str(export), str(inputs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    # the tiny run's own decode setting is greedy: serving_default gets a beam of 3
    return export_savedmodel(
        trained_run, tmp_path_factory.mktemp("savedmodel") / "out", beam_size=3
    )


def test_export_translates_as_the_translator_without_nmt(trained_run, exported, tmp_path):
    texts = [src for src, _ in reverse_pairs(40, seed=7)]
    long = " ".join(WORDS[i % len(WORDS)] for i in range(150))  # past the 100-piece limit
    texts += ["", "   ", "alpha", long, "echo  delta ", "kilo lima india"]
    # texts of several sentences, one with an over-long sentence, one of a full-width mark
    texts += ["alpha bravo. India juliet", "Kilo! Lima golf? Echo", "golf\u3002hotel",
              "alpha. " + long.capitalize() + ". Bravo"]  # fmt: skip
    translator = Translator.from_checkpoint(trained_run)
    assert len(translator.encode_sources([long])[0]) > translator.max_source_tokens
    got = load_and_translate(exported, texts, tmp_path)
    assert got["serving_default"] == translator.translate(texts, beam_size=3)
    assert got["greedy"] == translator.translate(texts, beam_size=1)
    assert got["greedy"][40:42] == ["", ""]
    stats = Counter()
    translator.translate_detailed(texts, stats=stats)
    assert stats["sentence_lines"] == 4 and stats["split_lines"] == 2
    info = json.loads((exported / "nmt_export.json").read_text(encoding="utf-8"))
    assert info["signatures"]["serving_default"]["beam_size"] == 3


def test_an_empty_batch_gives_an_empty_batch(exported):
    import tensorflow_text  # noqa: F401

    loaded = tf.saved_model.load(str(exported))
    found = loaded.signatures["greedy"](inputs=tf.constant([], tf.string))["translations"]
    assert found.shape == (0,)


END_TEXTS = [
    "", "   ", "Mary", "Mary ", "Mary\u00a0\t", "Hi!", "Hi! ", "¿Qué?", "a.b", "x\u3002",
    "fifty\u2028", "end.\n", "«cita»", "line\nbreak",
]  # fmt: skip


def test_end_mark_completion_in_the_graph_is_end_marks():
    marks = EndMarks(".", "\u3002")
    texts, added = complete_end_marks(tf.constant(END_TEXTS), marks.src)
    expected = [marks.complete(t) for t in END_TEXTS]
    assert [t.decode() for t in texts.numpy()] == [t for t, _ in expected]
    assert added.numpy().tolist() == [a for _, a in expected]
    outputs = ["Hola\u3002", "Hola \u3002  ", "Hola", "\u3002", "Hola.", "", "a\u3002b", *"xyz"]
    flags = [True] * 7 + [False] * 3
    stripped = strip_end_marks(tf.constant(outputs), tf.constant(flags), marks.tgt)
    assert [t.decode() for t in stripped.numpy()] == [
        marks.strip(t) if flag else t for t, flag in zip(outputs, flags)
    ]


SENTENCE_TEXTS = [
    "", "   ", "One. Two! Three? Four", "see you. then we go", "It costs 5. 6 is more.",
    "¡Mira! ¿Hay un avión? «Sí.» Vale.", 'He said "Stop." Then left.', "Wait... What?",
    "J. K. Rowling wrote it. She is British.", "The U.S. Army is big.", "A. B. C. D. E. Fine.",
    "Dr. Who is here. Mrs. Smith too.", "We met Gen. Lee. It was cold.", "We met GEN. Lee.",
    "(U.S. Army) is. Big", "Hi.. There", "Dr.. There", "1.5. Next", "a.\u00a0B",
    "x\x01y. Z\x01a. Q", "We watched TV. Then we slept.", "Tom vs. Mary is on.",
    "Er hat am 5. Mai Geburtstag. Ja.", "In 1990. Then \u0661\u0662. Next",
    "مرحبا. كيف حالك؟", "我饿了。你呢？", "我饿了。 你呢？", "end。」！next", "  lead.\t\tTrail.  ",
    "line one.\nLine two.", "p.m.\n Tom left.",
]  # fmt: skip


def test_sentence_splitting_in_the_graph_is_the_splitter():
    for splitter in (SentenceSplitter(), SentenceSplitter(frozenset({"gen", "dr"}), True)):
        sentences, text_of, joiners = split_sentences(tf.constant(SENTENCE_TEXTS), splitter)
        got = [([], []) for _ in SENTENCE_TEXTS]
        for sentence, i, joiner in zip(sentences.numpy(), text_of.numpy(), joiners.numpy()):
            if got[i][0]:
                got[i][1].append(joiner.decode())
            else:
                assert joiner == b""
            got[i][0].append(sentence.decode())
        assert got == [splitter.split(text) for text in SENTENCE_TEXTS]


def test_splitting_in_the_graph_is_split_ids():
    rng = np.random.default_rng(0)
    vocabulary = ["\u2581a", "b", "\u2581c.", "d;", "\u2581", "\u2581e", "f\u2581", "\u2581g\u2026"]
    rows = [list(rng.integers(0, len(vocabulary), size=n)) for n in (0, 3, 9, 10, 23, 40, 41)]
    for limit in (1, 2, 5, 9):
        pieces = [[vocabulary[i] for i in row] for row in rows]
        expected = [split_ids(row, p, limit) for row, p in zip(rows, pieces)]
        word, ends = piece_boundaries(tf.ragged.constant(pieces, dtype=tf.string))
        lengths = tf.constant([len(r) for r in rows], tf.int32)
        owner, begin, end = (t.numpy().tolist() for t in split_units(lengths, word, ends, limit))
        got = [[] for _ in rows]
        for i, b, e in zip(owner, begin, end):
            got[i].append(rows[i][b:e])
        assert got == expected, limit


@pytest.mark.parametrize("padded", [False, True])
def test_batches_in_the_graph_are_budget_batches(padded):
    rng = np.random.default_rng(1)
    lengths = np.sort(rng.integers(1, 60, size=300))
    expected = [len(b) for b in budget_batches(lengths, 700, 64, rng=None, padded=padded)]
    sizes, start = [], 0
    while start < len(lengths):
        sizes.append(int(batch_size_at(tf.constant(lengths[start:], tf.int32), 700, 64, padded)))
        start += sizes[-1]
    assert sizes == expected


def test_bad_input_is_one_line_and_an_existing_folder_is_kept(trained_run, tmp_path, capsys):
    assert main([str(tmp_path / "no-such-run"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("mine", encoding="utf-8")
    assert main([str(trained_run), str(users)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in users.iterdir()] == ["notes.txt"]
    before = sorted(p.name for p in trained_run.iterdir())
    assert main([str(trained_run), str(trained_run)]) == 2  # onto the run itself
    assert sorted(p.name for p in trained_run.iterdir()) == before
    assert main([str(trained_run), str(tmp_path / "out"), "--beam", "0"]) == 2
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind


def test_command_line_error_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "nmt.savedmodel", str(tmp_path / "missing"), str(tmp_path / "o")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


@pytest.mark.slow
def test_shipped_en_es_200_test_sentences_and_30_paragraphs_are_identical(shared_corpora, tmp_path):
    from nmt.evaluate import rebuild_test_split

    run = REPO / "checkpoints" / "en-es"
    test = rebuild_test_split(run, str(shared_corpora))[0]
    # and 30 paragraphs of 3 further test sentences, translated sentence by sentence
    paragraphs = [" ".join(test[i : i + 3]) for i in range(200, 290, 3)]
    sources = test[:200] + paragraphs
    export = export_savedmodel(run, tmp_path / "en-es")
    got = load_and_translate(export, sources, tmp_path)
    translator = Translator.from_checkpoint(run)
    assert translator.decode.beam_size == 5
    for name, beam in (("serving_default", 5), ("greedy", 1)):
        expected = translator.translate(sources, beam_size=beam)
        same = sum(a == b for a, b in zip(got[name], expected))
        print(f"{name} (beam {beam}): {same} of {len(sources)} identical")
        assert same == len(sources)
