"""translate.py in-process: files, pipes, bad input, scores, alignments, n-best, references."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from conftest import REPO, ctrl_c_reaches_child

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


@pytest.mark.parametrize(
    "search",
    [["--beam", "1"], ["--beam", "4", "--stopping", "exact"], ["--beam", "3", "--workers", "2"]],
)
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
        (["--workers", "0"], "--workers must be >= 1"),
        (["-i", "/nonexistent/input.txt"], "no such file"),
    ],
)
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_interactive_session_commands(trained_run):
    out, err = StringIO(), StringIO()
    translator = Translator.from_checkpoint(trained_run)
    defaults = dataclasses.replace(translator.decode)
    session = Session(translator, {"beam_size": 1}, out=out, err=err)
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
    assert session.handle(":prune 1.5") and session.overrides["beam_prune"] == 1.5
    assert session.handle(":prune -1") and session.overrides["beam_prune"] == 1.5
    assert session.handle(":nbest 1") and session.settings.search.beam_prune == 1.5
    assert translator.decode == defaults  # the session's settings are its own
    assert session.handle(":bogus") and "unknown command" in err.getvalue()
    assert session.handle(":help") and ":nbest N" in err.getvalue()
    assert session.handle("   ")
    assert not session.handle(":quit")


# --- what a hostile newcomer tries: outputs are theirs, errors are one line ---------------------
def test_output_onto_the_input_is_refused_and_the_file_kept(trained_run, tmp_path, capsys):
    same = tmp_path / "same.txt"
    same.write_text("alpha bravo charlie\n", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(same)
    for out in (same, link):
        assert main(["-m", str(trained_run), "-i", str(same), "-o", str(out)]) == 2
        assert "is the same file as --input" in capsys.readouterr().err
    nbest = ["--n-best", "2", "--n-best-file"]
    assert main(["-m", str(trained_run), "-i", str(same), "-o", str(tmp_path / "o"), *nbest,
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert "--n-best-file" in capsys.readouterr().err
    assert same.read_text(encoding="utf-8") == "alpha bravo charlie\n"


@pytest.mark.parametrize(
    "flag, where, message",
    [
        ("-o", "missing/out.txt", "folder .*missing does not exist"),
        ("-o", ".", "is a directory, not a file"),
        ("-o", "/proc/nmt-out.txt", "cannot create files in /proc"),  # unwritable even for root
        ("--n-best-file", "/proc/nmt-nbest.txt", "cannot create files in /proc"),
        ("--plot-attention", "/proc/nmt-plots", "cannot create files in /proc"),
        ("--plot-attention", "in.txt", "exists and is not a folder"),
    ],
)
def test_unwritable_outputs_are_one_line_before_loading(
    tmp_path, monkeypatch, capsys, flag, where, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("alpha\n", encoding="utf-8")
    # the model does not exist: the output check must come first, before any loading
    argv = ["-m", "/nonexistent/model", "-i", "in.txt", "--n-best", "2", flag, where]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and err.count("\n") == 1 and "Traceback" not in err


def test_nbest_without_file_goes_to_the_output(trained_run, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("india juliet\nalpha bravo charlie\n", encoding="utf-8")
    # no --beam: the model's beam is 1, widened to the 3 asked for
    assert main(["-m", str(trained_run), "-i", str(src), "--n-best", "3", "-q"]) == 0
    rows = [line.split(" ||| ") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["0"] * 3 + ["1"] * 3
    assert rows[0][1] == "JULIET INDIA" and rows[3][1] == "CHARLIE BRAVO ALPHA"
    assert len({r[1] for r in rows[:3]}) == 3


def test_empty_input_with_reference_is_an_error(trained_run, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert main(["-m", str(trained_run), "-i", str(empty), "-r", str(empty), "-q"]) == 1
    assert "nothing to score" in capsys.readouterr().err


def _translate_process(run, *argv: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, str(REPO / "translate.py"), "-m", str(run), *argv]
    return subprocess.Popen(command, cwd=REPO, env=env, text=True, **kwargs)


def test_ctrl_c_keeps_the_previous_output_file(trained_run, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("the user's previous translations\n", encoding="utf-8")
    process = _translate_process(
        trained_run, "-o", str(out), "--chunk-lines", "1", "-q",
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ctrl_c_reaches_child,
    )  # fmt: skip
    process.stdin.write("alpha bravo charlie\n")
    process.stdin.flush()
    deadline = time.time() + 120
    partial: list[Path] = []
    while time.time() < deadline and not any(p.stat().st_size for p in partial):
        time.sleep(0.1)
        partial = list(tmp_path.glob(".out.txt.*"))
    assert partial, "no translation was written within the time limit"
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 130
    assert "interrupted after 1 line(s)" in err and "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "the user's previous translations\n"
    assert not list(tmp_path.glob(".out.txt.*"))


def test_closed_pipe_ends_quietly(trained_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("alpha bravo charlie\n" * 20000, encoding="utf-8")
    process = _translate_process(
        trained_run, "-i", str(src), "-q", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first = process.stdout.readline()
    process.stdout.close()  # what | head -1 does
    err = process.stderr.read()
    process.wait(timeout=120)
    assert first == "CHARLIE BRAVO ALPHA\n"
    assert process.returncode == 141 and err == ""


def test_input_may_be_a_device_or_pipe_but_not_a_folder(trained_run, tmp_path, capsys):
    assert main(["-m", str(trained_run), "-i", os.devnull, "-q"]) == 0
    assert capsys.readouterr().out == ""
    read, write = os.pipe()  # what -i <(command) hands over
    os.write(write, b"india juliet\n")
    os.close(write)
    try:
        assert main(["-m", str(trained_run), "-i", f"/dev/fd/{read}", "-q"]) == 0
    finally:
        os.close(read)
    assert capsys.readouterr().out == "JULIET INDIA\n"
    assert main(["-m", str(trained_run), "-i", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def _pipe(run, text: str, env: dict | None = None) -> tuple[str, str]:
    """translate.py on ``text`` from a pipe, in a fresh process that reports on stderr whether
    TensorFlow was ever imported."""
    code = (
        "import sys; from nmt.cli_translate import main; status = main(sys.argv[1:]); "
        "print('TF', 'tensorflow' in sys.modules, file=sys.stderr); sys.exit(status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "-m", str(run), "-q"],
        input=text, capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def test_a_small_pipe_is_answered_without_tensorflow(trained_run):
    sources = ["alpha bravo charlie", "", "india juliet"]
    expected = Translator.from_checkpoint(trained_run).translate(sources)
    out, err = _pipe(trained_run, "\n".join(sources) + "\n")
    assert out.splitlines() == expected and "TF False" in err
    # more lines than a small request: TensorFlow, and the lines read ahead are not lost
    many = [f"{w} bravo" for w in ("alpha", "india", "kilo", "lima")] * 5
    out, err = _pipe(trained_run, "\n".join(many) + "\n")
    assert out.splitlines() == Translator.from_checkpoint(trained_run).translate(many)
    assert "TF True" in err
    out, err = _pipe(trained_run, "alpha bravo charlie\n", env={"NMT_QUICK": "0"})
    assert out == expected[0] + "\n" and "TF True" in err


def test_interactive_answers_small_requests_while_the_full_model_loads(trained_run):
    """The NumPy translator answers 1-best requests at once; an n-best list waits for the
    full model, which then serves everything."""
    from nmt.interactive import Background

    quick = Translator.from_run_numpy(trained_run)
    loaded = threading.Event()
    made = []

    def make():
        loaded.wait(timeout=60)
        made.append(Translator.from_checkpoint(trained_run))
        return made[0]

    out, err = StringIO(), StringIO()
    session = Session(quick, {"beam_size": 2}, out=out, err=err)
    session.full = Background(make, lambda: session.settings)
    assert session.handle("alpha bravo charlie")
    assert out.getvalue() == "CHARLIE BRAVO ALPHA\n" and not made  # answered before loading
    assert session.handle(":nbest 2")
    loaded.set()
    assert session.handle("india juliet")
    assert "waiting for the full model" in err.getvalue() and made
    assert out.getvalue().splitlines()[1].startswith("1. JULIET INDIA")
    assert session._translator_for("kilo", session.settings) is made[0]
