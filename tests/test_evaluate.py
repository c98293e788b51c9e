"""The evaluation report: scores, length buckets, plot, and a changed corpus detected."""

import json
import shutil

import pytest

from nmt.evaluate import EvaluationError, bleu_by_length, concatenate, main, rebuild_test_split


def test_bleu_by_length_buckets():
    sources = ["a b", "a b c d e f g", "x " * 25]
    refs = ["one two three four", "five six seven eight", "nine ten eleven twelve"]
    rows = bleu_by_length(sources, refs, refs)
    counts = {row["bucket"]: row["sentences"] for row in rows}
    assert counts == {"1-5": 1, "6-10": 1, "11-15": 0, "16-20": 0, "21+": 1}
    assert all(row["bleu"] == 100.0 for row in rows if row["sentences"])


def test_report_for_a_run(trained_run, tmp_path, capsys):
    out = tmp_path / "report"
    assert main([str(trained_run), "--beams", "1", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())[0]
    greedy = report["results"]["beam1"]
    assert greedy["bleu"] > 90 and greedy["bleu_signature"].startswith("nrefs:1")
    assert sum(row["sentences"] for row in greedy["by_length"]) == report["sentences"]
    assert (out / "bleu_by_length.png").read_bytes()[:4] == b"\x89PNG"
    assert "| reverse |" in (out / "report.md").read_text()


def test_changed_corpus_is_detected(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("backup", "tensorboard"))
    split = json.loads((run / "split.json").read_text())
    split["test_rows"] = split["test_rows"][1:]
    (run / "split.json").write_text(json.dumps(split))
    with pytest.raises(EvaluationError, match="differs"):
        rebuild_test_split(run)


def test_concatenated_inputs_measure_long_sentences(trained_run, tmp_path):
    assert concatenate(["a", "b c", "d", "e"], 3) == ["a b c d", "e"]
    out = tmp_path / "report"
    assert main([str(trained_run), "--beams", "1", "--concat", "3", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())[0]
    plain = rebuild_test_split(trained_run)[0]
    assert report["concat"] == 3 and report["sentences"] == -(-len(plain) // 3)
    rows = report["results"]["beam1"]["by_length"]
    assert [row["bucket"] for row in rows] == ["1-10", "11-20", "21-30", "31-40", "41+"]
    assert sum(row["sentences"] for row in rows) == report["sentences"]
    # the model learnt 2-7 word inputs: three joined are translated, but worse
    assert 5 < report["results"]["beam1"]["bleu"] < 90
    assert "BLEU 11-20" in (out / "report.md").read_text()


def test_concat_does_not_touch_metadata(trained_run):
    with pytest.raises(SystemExit):
        main([str(trained_run), "--concat", "2", "--update-metadata"])
