"""translate.py in-process: files, pipes, bad input, scores, alignments, n-best, references."""

from __future__ import annotations

import io
import re
import sys
from io import StringIO

import pytest

from nmt.cli_translate import main
from nmt.interactive import Session
from nmt.translator import Translator

GOOD = {
    "alpha bravo charlie": "CHARLIE BRAVO ALPHA",
    "kilo lima golf echo": "ECHO GOLF LIMA KILO",
    "india juliet": "JULIET INDIA",
    "delta echo foxtrot golf hotel": "HOTEL GOLF FOXTROT ECHO DELTA",
}


def bad_input() -> tuple[bytes, list[str | None]]:
    """Mixed bad lines (no final newline) and what each output line must be (None: any)."""
    lines = [
        (b"alpha bravo charlie", "CHARLIE BRAVO ALPHA"),
        (b"", ""),
        (b"   \t  ", ""),
        (b"kilo lima \xff\xfe golf echo", None),  # invalid UTF-8
        (b"india\x00 juliet\x07\x1b", "JULIET INDIA"),  # control characters
        (b"india juliet\r", "JULIET INDIA"),  # CRLF ending
        (b" ".join([b"alpha bravo charlie delta"] * 10), None),  # 40 words: over the limit
        (b"hotel" * 400, None),  # one enormous word
        # would-be line breaks of other kinds, between words the model knows
        (b"alpha\rbravo\x0bcharlie\x0cdelta\xc2\x85echo\xe2\x80\xa8golf", None),
        ("kilo\u00a0lima\u200b golf echo".encode(), "ECHO GOLF LIMA KILO"),
        (b"delta echo foxtrot golf hotel", "HOTEL GOLF FOXTROT ECHO DELTA"),
    ]
    return b"\n".join(raw for raw, _ in lines), [want for _, want in lines]


def test_bad_input_file_gives_one_line_per_line(trained_run, tmp_path, capsys):
    data, expected = bad_input()
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes(data)
    argv = ["-m", str(trained_run), "-i", str(src), "-o", str(out), "--beam", "3"]
    status = main([*argv, "--max-tokens", "12"])
    assert status == 0
    got = out.read_text(encoding="utf-8").split("\n")
    assert got[-1] == ""  # every line ends with a newline
    got = got[:-1]
    assert len(got) == len(expected) == data.count(b"\n") + 1
    for line, want in zip(got, expected):
        if want is not None:
            assert line == want
    assert got[3] and got[8]  # repaired lines are translated, not dropped
    assert abs(len(got[6].split()) - 40) <= 3  # the long line is translated whole, not cut off
    err = capsys.readouterr().err
    assert "2 blank line(s)" in err
    assert "1 line(s) with invalid UTF-8" in err
    assert "over-long line(s) split" in err


@pytest.mark.parametrize("search", [["--beam", "1"], ["--beam", "4", "--stopping", "exact"]])
def test_stdin_to_stdout_in_chunks_keeps_order(trained_run, monkeypatch, capsys, search):
    sources = list(GOOD) * 3 + ["", "india juliet"]
    data = ("\n".join(sources) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert main(["-m", str(trained_run), *search, "--chunk-lines", "3", "-q"]) == 0
    captured = capsys.readouterr()
    expected = [GOOD.get(s, "") if s != "india juliet" else "JULIET INDIA" for s in sources]
    assert captured.out.split("\n") == [*expected, ""]
    assert "1 blank line(s)" in captured.err  # the repair summary is kept with --quiet
    assert "translated" not in captured.err and "loaded" not in captured.err


def test_scores_alignments_nbest_plots_and_references(trained_run, tmp_path, capsys):
    sources = list(GOOD)
    src, ref, nbest = tmp_path / "in.txt", tmp_path / "ref.txt", tmp_path / "nbest.txt"
    src.write_text("\n".join(sources) + "\n", encoding="utf-8")
    ref.write_text("\n".join(GOOD[s] for s in sources) + "\n", encoding="utf-8")
    plots = tmp_path / "plots"
    argv = ["-m", str(trained_run), "-i", str(src), "--beam", "3", "--scores", "--align"]
    argv += ["--n-best", "3", "--n-best-file", str(nbest), "--plot-attention", str(plots)]
    assert main([*argv, "-r", str(ref)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == len(sources)
    for source, line in zip(sources, lines):
        text, alignment, score = line.split(" ||| ")
        assert text == GOOD[source]
        assert re.fullmatch(r"\d+-\d+( \d+-\d+)*", alignment)
        assert {int(p.split("-")[1]) for p in alignment.split()} == set(range(len(text.split())))
        assert -50 < float(score) <= 0
    listed = nbest.read_text(encoding="utf-8").splitlines()
    assert len(listed) == 3 * len(sources)
    for i in range(len(sources)):
        rows = [r.split(" ||| ") for r in listed[3 * i : 3 * i + 3]]
        assert [r[0] for r in rows] == [str(i)] * 3
        assert rows[0][1] == GOOD[sources[i]]
        scores = [float(r[2]) for r in rows]
        assert scores == sorted(scores, reverse=True)
    assert sorted(p.name for p in plots.iterdir()) == [f"{i:06d}.png" for i in (1, 2, 3, 4)]
    assert re.search(r"BLEU\s*=\s*100\.00\s+\(nrefs:1\|", captured.err)
    assert re.search(r"CHRF\s*=\s*100\.00\s+\(nrefs:1\|", captured.err)


def test_reference_with_wrong_line_count_is_an_error(trained_run, tmp_path, capsys):
    src, ref = tmp_path / "in.txt", tmp_path / "ref.txt"
    src.write_text("india juliet\nalpha bravo charlie\n", encoding="utf-8")
    ref.write_text("JULIET INDIA\n", encoding="utf-8")
    assert main(["-m", str(trained_run), "-i", str(src), "-r", str(ref), "-q"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["JULIET INDIA", "CHARLIE BRAVO ALPHA"]
    assert "has 1 lines but the input has 2" in captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-m", "/nonexistent/model"], "not found"),
        (["--beam", "0"], "--beam must be >= 1"),
        (["--beam", "2", "--n-best", "3"], "larger than --beam"),
        (["--beam-prune", "-0.5"], "--beam-prune must be >= 0"),
        (["-i", "/nonexistent/input.txt"], "no such file"),
    ],
)
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_interactive_session_commands(trained_run):
    out, err = StringIO(), StringIO()
    session = Session(Translator.from_checkpoint(trained_run), beam_size=1, out=out, err=err)
    assert session.handle("alpha bravo charlie")
    assert out.getvalue() == "CHARLIE BRAVO ALPHA\n"
    assert re.search(r"\(\d+\.\d\d s, beam 1\)", err.getvalue())
    assert session.handle(":nbest 3")
    assert session.beam_size == 3 and session.n_best == 3
    assert session.handle(":align")
    out.truncate(0), out.seek(0)
    assert session.handle("india juliet")
    shown = out.getvalue().splitlines()
    assert shown[0].startswith("1. JULIET INDIA   (score ")
    assert re.fullmatch(r"   alignment: \d+-\d+( \d+-\d+)*", shown[1])
    assert sum(line[:2] in ("1.", "2.", "3.") for line in shown) == 3
    assert session.handle(":beam 2") and session.n_best == 2
    assert session.handle(":prune 1.5") and session.translator.decode.beam_prune == 1.5
    assert session.handle(":prune -1") and session.translator.decode.beam_prune == 1.5
    assert session.handle(":bogus") and "unknown command" in err.getvalue()
    assert session.handle(":help") and ":nbest N" in err.getvalue()
    assert session.handle("   ")
    assert not session.handle(":quit")
