"""Evaluation report for run directories: ``python -m nmt.evaluate RUN_DIR [RUN_DIR ...]``.

For each run: sacreBLEU BLEU/chrF/TER with signatures on the run's own test split (rebuilt from
the corpus and checked against ``split.json``), BLEU by source-length bucket, and a PNG plot of
BLEU against source length (one line per run, so models can be compared on one picture).

``--concat K`` scores inputs made of K consecutive test sentences joined (and their references
joined): a corpus of short sentences then still says how a model copes with long inputs.
``--split dev`` scores the dev split instead: use it to choose between models (checkpoint
averages, fine-tunes) and keep the test split for the final figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nmt
from nmt.env import prefer_onednn, quiet_tensorflow, translation_workers

if TYPE_CHECKING:
    from nmt.config import DataConfig
    from nmt.data import Pair

Buckets = tuple[tuple[int, int | None], ...]
BUCKETS: Buckets = ((1, 5), (6, 10), (11, 15), (16, 20), (21, None))
LONG_BUCKETS: Buckets = ((1, 10), (11, 20), (21, 30), (31, 40), (41, None))  # for --concat


class EvaluationError(ValueError):
    """The dev or test split cannot be rebuilt as it was when the model was trained."""


def bucket_name(low: int, high: int | None) -> str:
    return f"{low}-{high}" if high is not None else f"{low}+"


def source_length(text: str) -> int:
    """Source length in whitespace-separated words (independent of the model's tokenizer)."""
    return len(text.split())


SPLITS = ("dev", "test")


def rebuild_test_split(run_dir: Path, data_dir: str | None = None) -> tuple[list[str], list[str]]:
    """The run's test split (sources, references); see ``rebuild_split``."""
    return rebuild_split(run_dir, "test", data_dir)


def rebuild_split(
    run_dir: Path, split: str, data_dir: str | None = None
) -> tuple[list[str], list[str]]:
    """Rebuild the run's ``dev`` or ``test`` split, checked against split.json.

    A dev/test set the run was given is read again from its corpus (its sha256 checked); a
    split the run made is rebuilt from the corpus and checked row by row.
    """
    from nmt.checkpoint import SPLIT_FILE
    from nmt.config import load_config
    from nmt.data import load_split_rows, prepare_data

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    config = load_config(run_dir / "config.yaml")
    if data_dir:
        config.data.data_dir = data_dir
    split_file = run_dir / SPLIT_FILE
    recorded = load_split_rows(split_file) if split_file.is_file() else None
    given = config.data.dev_corpus if split == "dev" else config.data.test_corpus
    if given:
        pairs = _rebuild_given(run_dir, split, config.data, recorded)
        return [p.src for p in pairs], [p.tgt for p in pairs]
    data = prepare_data(config.data)
    pairs = getattr(data.splits, split)
    if recorded is not None:
        rows = [p.row for p in pairs]
        if rows != recorded.get(f"{split}_rows"):
            raise EvaluationError(
                f"{run_dir}: the {split} split rebuilt from {config.data.corpus} differs from "
                f"{SPLIT_FILE} (has the corpus file changed?)"
            )
        if data.fingerprint and recorded.get("sha256") not in ("", None, data.fingerprint):
            raise EvaluationError(f"{run_dir}: corpus file checksum differs from {SPLIT_FILE}")
    return [p.src for p in pairs], [p.tgt for p in pairs]


def _rebuild_given(
    run_dir: Path, split: str, data: DataConfig, recorded: dict | None
) -> list[Pair]:
    """The pairs of a dev/test set the run was given, checked against its split.json record."""
    from nmt.checkpoint import SPLIT_FILE
    from nmt.data import read_given_set

    given = read_given_set(getattr(data, f"{split}_corpus"), split, data)
    if recorded is None:
        return given.pairs
    record = recorded.get(f"{split}_given")
    if record is None:
        raise EvaluationError(
            f"{run_dir}: config.yaml gives a {split} set but {SPLIT_FILE} records a random split"
        )
    if given.fingerprint and record.get("sha256") not in ("", None, given.fingerprint):
        raise EvaluationError(
            f"{run_dir}: the given {split} set {given.spec.name} has changed since training "
            f"(sha256 differs from {SPLIT_FILE})"
        )
    return given.pairs


def concatenate(texts: list[str], k: int) -> list[str]:
    """Each run of ``k`` consecutive texts joined by a space (a shorter last one is kept)."""
    if k < 1:
        raise ValueError(f"need k >= 1, got {k}")
    return [" ".join(texts[i : i + k]) for i in range(0, len(texts), k)]


def bleu_by_length(
    sources: list[str], hyps: list[str], refs: list[str], buckets: Buckets = BUCKETS
) -> list[dict[str, Any]]:
    """BLEU and chrF per source-length bucket."""
    from nmt.scoring import score_corpus

    rows = []
    for low, high in buckets:
        index = [
            i
            for i, s in enumerate(sources)
            if low <= source_length(s) and (high is None or source_length(s) <= high)
        ]
        row: dict[str, Any] = {"bucket": bucket_name(low, high), "sentences": len(index)}
        if index:
            scores = score_corpus([hyps[i] for i in index], [refs[i] for i in index])
            row.update(bleu=scores["bleu"], chrf=scores["chrf"])
        rows.append(row)
    return rows


def evaluate_run(
    run_dir: Path,
    beams: list[int],
    data_dir: str | None = None,
    concat: int = 1,
    split: str = "test",
    workers: int = 1,
) -> dict[str, Any]:
    """Translate a split (``concat`` sentences per input) with each beam size, on ``workers``
    threads (``Translator``); score it."""
    from nmt.scoring import score_corpus
    from nmt.translator import Translator

    translator = Translator.from_checkpoint(run_dir, workers=workers)
    sources, refs = rebuild_split(run_dir, split, data_dir)
    buckets = BUCKETS
    if concat > 1:
        sources, refs, buckets = (
            concatenate(sources, concat),
            concatenate(refs, concat),
            LONG_BUCKETS,
        )
    report: dict[str, Any] = {
        "run": str(run_dir),
        "parameters": translator.model.count_params(),
        "attention": translator.model.attention_type,
        "split": split,
        "sentences": len(sources),
        "concat": concat,
        "results": {},
    }
    for beam in beams:
        start = time.time()
        hyps = translator.translate(sources, beam_size=beam)
        seconds = time.time() - start
        scores = score_corpus(hyps, refs, ("bleu", "chrf", "ter"))
        scores["seconds"] = round(seconds, 1)
        scores["by_length"] = bleu_by_length(sources, hyps, refs, buckets)
        report["results"][f"beam{beam}"] = scores
    return report


def record_scores(run_dir: Path, report: dict[str, Any]) -> None:
    """Store overall scores as ``test_scores`` (``greedy``, ``beam5``, ...) in metadata.json."""
    from nmt.checkpoint import read_metadata, update_metadata

    recorded = dict(read_metadata(run_dir).get("test_scores", {}))
    for search, scores in report["results"].items():
        name = "greedy" if search == "beam1" else search
        recorded[name] = {k: v for k, v in scores.items() if k != "by_length"}
    update_metadata(run_dir, test_scores=recorded)


def markdown_table(reports: list[dict[str, Any]]) -> str:
    """One row per (run, beam): overall scores and BLEU per source-length bucket."""
    names = _bucket_names(reports)
    lines = [
        "| model | attention | params | search | BLEU | chrF | TER | "
        + " | ".join(f"BLEU {n}" for n in names)
        + " |",
        "|" + "---|" * (7 + len(names)),
    ]
    for report in reports:
        for search, scores in report["results"].items():
            by = {row["bucket"]: row for row in scores["by_length"]}
            cells = [
                f"{by[n]['bleu']:.1f} ({by[n]['sentences']})" if "bleu" in by[n] else "-"
                for n in names
            ]
            lines.append(
                f"| {Path(report['run']).name} | {report['attention']} | "
                f"{report['parameters'] / 1e6:.1f}M | {search} | {scores['bleu']:.1f} | "
                f"{scores['chrf']:.1f} | {scores['ter']:.1f} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def _bucket_names(reports: list[dict[str, Any]]) -> list[str]:
    first = next(iter(reports[0]["results"].values()))
    return [row["bucket"] for row in first["by_length"]]


def plot_bleu_by_length(reports: list[dict[str, Any]], path: Path, search: str) -> None:
    """Line plot of BLEU per source-length bucket, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = _bucket_names(reports)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for report in reports:
        scores = report["results"].get(search)
        if scores is None:
            continue
        by = {row["bucket"]: row.get("bleu") for row in scores["by_length"]}
        ax.plot(names, [by[n] for n in names], marker="o", label=Path(report["run"]).name)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel(f"BLEU ({search})")
    concat = reports[0].get("concat", 1)
    ax.set_title(
        "BLEU by source length" + (f" ({concat} test sentences per input)" if concat > 1 else "")
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.evaluate",
        description="Score run directories on their test split; write JSON, Markdown and a plot.",
    )
    parser.add_argument("runs", nargs="+", help="run directories or shipped model names")
    parser.add_argument("--beams", default="1,5", help="comma list of beam sizes (1 = greedy)")
    parser.add_argument("--out", help="report folder (default: RUN/eval for a single run)")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="which held-out split to score (dev: for choosing between models)",
    )
    parser.add_argument(
        "--concat",
        type=int,
        default=1,
        metavar="K",
        help="score inputs of K consecutive test sentences joined (long-input behaviour)",
    )
    parser.add_argument(
        "--update-metadata",
        action="store_true",
        help="record the scores as test_scores in each run's metadata.json",
    )
    parser.add_argument("--version", action="version", version=f"lstm-nmt {nmt.__version__}")
    args = parser.parse_args(argv)
    if args.concat < 1:
        parser.error("--concat must be >= 1")
    if args.update_metadata and (args.concat > 1 or args.split != "test"):
        parser.error("--update-metadata records the plain test split: leave out --concat/--split")
    prefer_onednn()
    quiet_tensorflow()
    workers = translation_workers(None)
    from corpora import CorpusError
    from nmt.checkpoint import CheckpointError, resolve_run_dir
    from nmt.scoring import format_scores

    beams = [int(b) for b in args.beams.split(",")]
    reports = []
    try:
        for name in args.runs:
            run_dir = resolve_run_dir(name)
            report = evaluate_run(run_dir, beams, args.data_dir, args.concat, args.split, workers)
            reports.append(report)
            for search, scores in report["results"].items():
                print(f"{run_dir} {search}:\n{format_scores(scores)}")
            if args.update_metadata:
                record_scores(run_dir, report)
    except (CheckpointError, CorpusError, EvaluationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    default_out = "eval" if args.split == "test" else f"eval-{args.split}"
    out = Path(args.out) if args.out else resolve_run_dir(args.runs[0]) / default_out
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")
    table = markdown_table(reports)
    (out / "report.md").write_text(table + "\n", encoding="utf-8")
    search = f"beam{max(beams)}"
    plot_bleu_by_length(reports, out / "bleu_by_length.png", search)
    print(table)
    print(f"report written to {out}/ (report.json, report.md, bleu_by_length.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
