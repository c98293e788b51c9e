"""Command line of ``translate.py``: interactive at a terminal, else file or pipe translation."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO, TextIO

import nmt
from nmt.env import prefer_onednn, quiet_tensorflow, translation_workers

DEFAULT_MODEL = "en-es"
# A request this small (a pipe of a few lines, a short file, 1-best, no alignments) is answered
# in NumPy with weights read by h5py: importing TensorFlow alone takes seconds, the answer
# milliseconds.
QUICK_BYTES = 4096
QUICK_ENV = "NMT_QUICK"  # "0" turns the NumPy answer off


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="translate.py",
        description="Translate with a trained model: interactively at a terminal, or line by "
        "line from -i FILE / standard input to -o FILE / standard output (always exactly one "
        "output line per input line).",
    )
    add = parser.add_argument
    add(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        help=f"run directory or shipped model name (default: {DEFAULT_MODEL})",
    )
    add("--weights", choices=("best", "last"), default="best", help="which checkpoint to load")
    add("-i", "--input", help="input file, one sentence per line (default: standard input)")
    add("-o", "--output", help="output file (default: standard output)")
    add("--beam", "-b", type=int, help="beam size (default: the model's; 1 = greedy)")
    add("--alpha", type=float, help="length penalty alpha (default: the model's)")
    add(
        "--stopping",
        choices=("heuristic", "exact"),
        help="when beam search ends a sentence (default: the model's, normally heuristic); "
        "exact keeps searching while a longer hypothesis could still win",
    )
    add(
        "--beam-prune",
        type=float,
        help="drop beam hypotheses more than this log-probability below their sentence's best "
        "(default: the model's, normally 2.5; 0 keeps every beam)",
    )
    add(
        "--n-best",
        type=int,
        default=1,
        help="list this many translations per line as 'LINE ||| text ||| score ||| log-prob' "
        "(to --n-best-file if given, else in place of the output lines; the beam is widened "
        "to at least N)",
    )
    add("--n-best-file", help="write the n-best lists here, the 1-best lines to the output")
    add(
        "--align",
        action="store_true",
        help="append ' ||| ' and Pharaoh word alignments ('0-0 1-2 ...') to each line",
    )
    add("--plot-attention", metavar="DIR", help="write an attention heat map PNG per line here")
    add(
        "--scores",
        action="store_true",
        help="append ' ||| ' and the translation's log-probability to each line",
    )
    add("-r", "--reference", help="reference translations: print sacreBLEU BLEU and chrF")
    add(
        "--chunk-lines",
        type=int,
        default=4000,
        help="lines read and sorted together (memory bound; 1 for line-at-a-time pipes)",
    )
    add(
        "--workers",
        type=int,
        help="threads that translate a chunk's batches side by side, each on one CPU core "
        "(default: one per CPU, 1 with a GPU)",
    )
    add(
        "--max-tokens",
        type=int,
        help="split inputs longer than this many source pieces (default: the training limit)",
    )
    add(
        "--no-end-mark",
        action="store_true",
        help="translate lines without final punctuation as they are (by default they get the "
        "final mark the model's training data end in, which the output then loses again)",
    )
    add(
        "--no-split-sentences",
        action="store_true",
        help="translate each line as one text (by default a line of several sentences is "
        "translated sentence by sentence and the translations joined)",
    )
    add("--quiet", "-q", action="store_true", help="no progress bar, no timing messages")
    add("--interactive", action="store_true", help="interactive even when input is not a terminal")
    add("--version", action="version", version=f"lstm-nmt {nmt.__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = _check_args(args) or _check_paths(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()  # the reader left (| head): end quietly, as cat does
        return 141
    except OSError as err:  # a disk that fills, a file that vanishes: one line, no traceback
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    from nmt.checkpoint import CheckpointError, resolve_run_dir

    try:
        resolve_run_dir(args.model)  # a wrong name fails before any input is read
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    interactive = args.interactive or (args.input is None and sys.stdin.isatty())
    quick_start = interactive and os.environ.get(QUICK_ENV) != "0"
    head, rest = (None, None) if interactive else _small_input(args)
    try:
        if quick_start:  # answers at once; the full model loads while the user types
            from nmt.translator import Translator

            translator = Translator.from_run_numpy(args.model, weights=args.weights)
        else:
            translator = _numpy_translator(args, head) if head is not None else None
        if translator is None:
            translator = _full_translator(args)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    overrides = {
        "beam_size": args.beam,
        "n_best": args.n_best,
        "length_penalty": args.alpha,
        "stopping": args.stopping,
        "beam_prune": args.beam_prune,
        "max_source_tokens": args.max_tokens,
        "complete_end_mark": False if args.no_end_mark else None,
        "split_sentences": False if args.no_split_sentences else None,
    }
    if (args.align or args.plot_attention) and not translator.has_attention:
        print(
            "error: this model has no attention, so --align and --plot-attention are not available",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        print(f"loaded {args.model} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if interactive:
        from nmt import interactive as session

        load = (lambda: _full_translator(args)) if quick_start else None
        return session.run(translator, overrides, load_full=load)
    try:
        settings = translator.settings(
            **overrides, with_attention=bool(args.align or args.plot_attention)
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lines = None if head is None else chain(head, rest or ())
    return translate_file(translator, args, settings, lines)


def _full_translator(args: argparse.Namespace):
    """The translator over the Keras model (TensorFlow imported here), translating on
    ``--workers`` threads."""
    prefer_onednn()
    quiet_tensorflow()
    from nmt.translator import Translator

    workers = translation_workers(args.workers)
    return Translator.from_checkpoint(args.model, weights=args.weights, workers=workers)


def _small_input(args: argparse.Namespace) -> tuple[list[bytes] | None, Iterator[bytes] | None]:
    """For a request that may be small, its first lines (all of them if it is small) and an
    iterator over the rest of standard input; else (None, None). A file is read whole if it
    is at most ``QUICK_BYTES``, else left to be streamed."""
    from nmt.numpy_decode import SMALL_REQUEST_LINES
    from nmt.streaming import read_lines

    plain = not (args.align or args.plot_attention or args.reference or args.n_best > 1)
    if args.interactive or not plain or args.chunk_lines == 1:  # line-at-a-time: no read-ahead
        return None, None
    if os.environ.get(QUICK_ENV) == "0":  # benchmarks compare with the TensorFlow path
        return None, None
    if args.input is not None:
        path = Path(args.input)
        if not path.is_file() or path.stat().st_size > QUICK_BYTES:
            return None, None
        with open(path, "rb") as handle:
            return list(read_lines(handle)), None
    if sys.stdin.isatty():
        return None, None
    rest = read_lines(sys.stdin.buffer)
    return list(islice(rest, SMALL_REQUEST_LINES + 1)), rest


def _numpy_translator(args: argparse.Namespace, head: list[bytes]):
    """A translator that never imports TensorFlow (``Translator.from_run_numpy``), if the
    request is small (``SMALL_REQUEST_LINES`` lines, ``SMALL_REQUEST_PIECES`` pieces); else
    None. Everything else about the request is the same: the output is the compiled search's
    (tests compare the two)."""
    from nmt.numpy_decode import SMALL_REQUEST_LINES, SMALL_REQUEST_PIECES

    if len(head) > SMALL_REQUEST_LINES:
        return None
    from nmt.translator import Translator

    translator = Translator.from_run_numpy(args.model, weights=args.weights)
    texts = [line.decode("utf-8", "replace") for line in head]
    if sum(map(len, translator.encode_sources(texts))) > SMALL_REQUEST_PIECES:
        return None
    return translator


def _check_args(args: argparse.Namespace) -> str | None:
    if args.beam is not None and args.beam < 1:
        return "--beam must be >= 1"
    if args.n_best < 1:
        return "--n-best must be >= 1"
    if args.beam is not None and args.n_best > args.beam:
        return f"--n-best {args.n_best} is larger than --beam {args.beam}"
    if args.chunk_lines < 1:
        return "--chunk-lines must be >= 1"
    if args.beam_prune is not None and not args.beam_prune >= 0:
        return "--beam-prune must be >= 0 (0: no pruning)"
    if args.max_tokens is not None and args.max_tokens < 1:
        return "--max-tokens must be >= 1"
    if args.workers is not None and args.workers < 1:
        return "--workers must be >= 1"
    return None


def _check_paths(args: argparse.Namespace) -> str | None:
    """Inputs exist, outputs can be written, and no output is an input or another output,
    checked before the model loads."""
    from nmt.io import output_file_problem, output_folder_problem, same_file

    inputs = [(f"--{name}", getattr(args, name)) for name in ("input", "reference")]
    outputs = [("--output", args.output), ("--n-best-file", args.n_best_file)]
    for flag, path in inputs:
        if path is None:
            continue
        if not Path(path).exists():  # a pipe (-i <(...)) or /dev/stdin is fine: only read
            return f"{flag} {path}: no such file"
        if Path(path).is_dir():
            return f"{flag} {path} is a directory, not a file"
    for flag, path in outputs:
        problem = path is not None and output_file_problem(path)
        if problem:
            return f"{flag} {path}: {problem}"
    if args.plot_attention is not None:
        problem = output_folder_problem(args.plot_attention)
        if problem:
            return f"--plot-attention {args.plot_attention}: {problem}"
    named = [(flag, path) for flag, path in inputs + outputs if path is not None]
    for i, (flag, path) in enumerate(named):
        for other_flag, other in named[i + 1 :]:
            if other_flag in ("--output", "--n-best-file") and same_file(path, other):
                return f"{other_flag} {other} is the same file as {flag} {path}"
    return None


def translate_file(
    translator, args: argparse.Namespace, settings, lines: Iterable[bytes] | None = None
) -> int:
    """Translate ``args.input`` (or stdin) to ``args.output`` (or stdout), one line per line.

    ``lines``: the input's lines when they were read already (else they are read here).
    Output files are written beside and renamed into place at the end, so Ctrl-C leaves a
    previous file as it was. ``--n-best N`` without ``--n-best-file`` writes the n-best lines in
    place of the 1-best ones.
    """
    from nmt.io import output_stream
    from nmt.streaming import one_line, read_lines, repair_summary, translate_lines

    beam = settings.beam_size
    stats: Counter = Counter()
    hypotheses: list[str] = []
    start, count = time.perf_counter(), 0
    try:
        with ExitStack() as stack:
            source: BinaryIO | None = None
            if lines is None:
                source = (
                    stack.enter_context(open(args.input, "rb")) if args.input else sys.stdin.buffer
                )
                lines = read_lines(source)
            out: TextIO = (
                stack.enter_context(output_stream(args.output))
                if args.output
                else _utf8(sys.stdout)
            )
            nbest_out: TextIO | None = None
            if args.n_best_file:
                nbest_out = stack.enter_context(output_stream(args.n_best_file))
            elif args.n_best > 1:
                nbest_out = out
            progress = _progress(args, source) if source is not None else None
            if progress is not None:
                stack.callback(progress.close)
            results = translate_lines(
                translator,
                lines,
                stats,
                settings,
                chunk_lines=args.chunk_lines,
            )
            for number, (_, hyps) in enumerate(results):
                if nbest_out is not out:
                    out.write(_format(translator, hyps[0], args) + "\n")
                if nbest_out is not None:
                    for hyp in hyps:
                        nbest_out.write(
                            f"{number} ||| {one_line(hyp.text)} ||| {hyp.score:.4f} "
                            f"||| {hyp.log_prob:.4f}\n"
                        )
                if args.plot_attention and hyps[0].attention is not None and hyps[0].tokens:
                    path = Path(args.plot_attention) / f"{number + 1:06d}.png"
                    _plot(translator, hyps[0], path)
                if args.reference:
                    hypotheses.append(hyps[0].text)
                count += 1
                if progress is not None:
                    progress.update(1)
                if args.chunk_lines == 1:
                    out.flush()
            out.flush()
    except KeyboardInterrupt:
        kept = f"; {args.output} is as it was before" if args.output else ""
        print(f"\ninterrupted after {count} line(s){kept}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    summary = repair_summary(stats)
    if summary:
        print(summary, file=sys.stderr)
    if not args.quiet:
        rate = count / seconds if seconds > 0 else 0.0
        print(
            f"translated {count} line(s) in {seconds:.1f} s ({rate:.1f} lines/s, beam {beam})",
            file=sys.stderr,
        )
    if args.reference:
        return _score(hypotheses, args.reference)
    return 0


def _format(translator, hyp, args: argparse.Namespace) -> str:
    """The output line: the translation, then ``||| alignment`` and ``||| log-prob`` if asked."""
    from nmt.streaming import one_line

    fields = [one_line(hyp.text)]
    if args.align:
        fields.append(_alignment(translator, hyp))
    if args.scores:
        fields.append(f"{hyp.log_prob:.4f}")
    return " ||| ".join(fields)


def _alignment(translator, hyp) -> str:
    from nmt.alignment import pharaoh, word_alignment

    if hyp.attention is None or not hyp.tokens:
        return ""
    src = translator.src_tokenizer.pieces(hyp.src_tokens)
    tgt = translator.tgt_tokenizer.pieces(hyp.tokens)
    return pharaoh(word_alignment(src, tgt, hyp.attention))


def _plot(translator, hyp, path: Path) -> None:
    from nmt.alignment import plot_attention

    src = translator.src_tokenizer.pieces(hyp.src_tokens)
    tgt = translator.tgt_tokenizer.pieces(hyp.tokens)
    plot_attention(hyp.attention, src, tgt, path, title=hyp.text[:80])


def _progress(args: argparse.Namespace, source: BinaryIO):
    """A tqdm bar on stderr for file input (not with --quiet), else None."""
    if args.quiet or not args.input:
        return None
    from tqdm import tqdm

    from nmt.streaming import count_lines

    return tqdm(total=count_lines(source), unit=" lines", file=sys.stderr, dynamic_ncols=True)


def _utf8(stream: TextIO) -> TextIO:
    """Standard output as UTF-8 whatever the locale says (unencodable text never stops a run)."""
    if hasattr(stream, "reconfigure") and (stream.encoding or "").lower() not in ("utf-8", "utf8"):
        stream.reconfigure(encoding="utf-8", errors="replace")
    return stream


def _score(hypotheses: list[str], reference: str) -> int:
    from nmt.scoring import format_scores, score_corpus

    with open(reference, encoding="utf-8", errors="replace", newline="") as handle:
        refs = [line.rstrip("\r\n") for line in handle.read().split("\n")]
    if refs and refs[-1] == "":
        refs.pop()
    if not hypotheses:
        print("error: the input has no lines: nothing to score", file=sys.stderr)
        return 1
    if len(refs) != len(hypotheses):
        print(
            f"error: {reference} has {len(refs)} lines but the input has {len(hypotheses)}; "
            "no scores",
            file=sys.stderr,
        )
        return 1
    print(format_scores(score_corpus(hypotheses, refs, ("bleu", "chrf"))), file=sys.stderr)
    return 0
