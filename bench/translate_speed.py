#!/usr/bin/env python3
"""Translation speed and quality of a trained model on its test split, printed as JSON.

For each beam size: sentences/s and target pieces/s over the whole test split (after a short
warm-up that traces the graph), BLEU and chrF; with ``--repeat N`` the settings alternate in N
rounds and each beam size's ratio to greedy is taken within a round (a noisy machine slows a
round's settings alike). Then the peak memory of this process and, in a
fresh ``translate.py`` process, the wall time from process start to the first translation
(the median of ``--startup-runs`` processes: on a small shared machine it varies by a second).

    python bench/translate_speed.py --model checkpoints/en-es --beams 1,5,10 --compare-exact
    python bench/translate_speed.py --beams 1,5 --compare-prune --repeat 5
    python bench/translate_speed.py --beams 1,5 --max-batch-sizes 256,512 --no-startup

``--model`` defaults to the shipped ``checkpoints/en-es`` when it exists. The test split is
rebuilt from the corpus named in the run's config (found under ``--data-dir`` /
``$NMT_DATA_DIR`` / ``../shared/corpora``) and checked against the run's ``split.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SHIPPED = REPO / "checkpoints" / "en-es"


def timed_pass(translator, sources: list[str], setting: tuple):
    """One pass over ``sources`` at one ``(max_batch_size, beam, stopping, beam_prune)``
    setting: (seconds, hypotheses)."""
    batch_size, beam, stopping, prune = setting
    settings = translator.settings(
        max_batch_size=batch_size, beam_size=beam, stopping=stopping, beam_prune=prune
    )
    start = time.perf_counter()
    hyps = translator.translate_detailed(sources, settings=settings)
    return time.perf_counter() - start, hyps


def measure_rounds(
    translator, sources: list[str], refs: list[str], settings: list[tuple], repeat: int
) -> list[dict]:
    """Speed and quality of each ``(max_batch_size, beam, stopping, beam_prune)`` setting.

    The settings alternate: each of ``repeat`` rounds runs every setting once, so that a slow
    spell of a shared machine hits them alike. Speed is the median of a setting's passes; its
    ratio to greedy (same batch size) is the median of the ratios within each round."""
    from nmt.scoring import score_corpus

    for setting in settings:  # trace each graph before timing
        timed_pass(translator, sources[:64], setting)
    passes: dict[tuple, list[float]] = {setting: [] for setting in settings}
    hyps: dict[tuple, list] = {}
    for _ in range(repeat):
        for setting in settings:
            seconds, hyps[setting] = timed_pass(translator, sources, setting)
            passes[setting].append(seconds)
    results = []
    for setting in settings:
        batch_size, beam, stopping, prune = setting
        seconds = _median(passes[setting])
        texts = [h[0].text for h in hyps[setting]]
        tokens = sum(len(h[0].tokens) for h in hyps[setting])
        scores = score_corpus(texts, refs, ("bleu", "chrf"))
        result = {
            "max_batch_size": batch_size,
            "beam": beam,
            "stopping": stopping if beam > 1 else None,
            "beam_prune": prune if beam > 1 else None,
            "sentences_per_sec": round(len(sources) / seconds, 1),
            "target_tokens_per_sec": round(tokens / seconds, 1),
            "seconds": round(seconds, 2),
            "passes_sentences_per_sec": [round(len(sources) / x, 1) for x in passes[setting]],
            "bleu": scores["bleu"],
            "chrf": scores["chrf"],
        }
        greedy = next((g for g in settings if g[0] == batch_size and g[1] == 1), None)
        if beam > 1 and greedy is not None:
            ratios = [g / x for g, x in zip(passes[greedy], passes[setting])]
            result["throughput_vs_greedy"] = round(statistics.median(ratios), 3)
            if repeat > 1:
                result["rounds_vs_greedy"] = [round(r, 3) for r in ratios]
        results.append(result)
    return results


def _median(values: list[float]) -> float:
    """The middle value; for an even count the larger middle one (for times: the slower)."""
    return sorted(values)[len(values) // 2]


def step_cost(translator, sources: list[str], beams: list[int], steps: int = 30) -> dict:
    """Microseconds per row per decoder step with ``len(sources) * beam`` rows (the beams of a
    batch), each step followed by the search's token choice (argmax, or the beams' top-k) from
    the model's logits and their normaliser, as ``nmt.search`` does. Equal costs per row would
    mean beam ``k`` costs ``k`` times greedy per sentence."""
    import tensorflow as tf

    from nmt.vocab_kernels import argmax_and_normalizer, normalized_top_extensions

    model = translator.model
    tables = translator.executor.decode_tables()  # as the translator's own search uses them
    ids = translator.encode_sources(sources)
    width = max(len(x) for x in ids)
    src = tf.constant([x + [0] * (width - len(x)) for x in ids], tf.int32)

    @tf.function(autograph=False)
    def run(src, beam: int, count):
        memory, mask, states = model.encode(src)
        states = tf.nest.map_structure(lambda x: tf.repeat(x, beam, 0), states)

        def body(i, tokens, states):
            scores, states, _ = model.decode_step(
                tokens, states, memory, mask, tables, normalize=False
            )
            if beam == 1:
                tokens = argmax_and_normalizer(scores)[0]
            else:  # the search's own top-k over each sentence's beams
                vocab = scores.shape[-1]
                grouped = tf.reshape(scores, [-1, beam, vocab])
                base = tf.zeros(tf.shape(grouped)[:2])
                index = normalized_top_extensions(grouped, base, 2 * beam)[1]
                tokens = tf.reshape(index[:, :beam] % vocab, [-1])
            return i + 1, tokens, states

        start = (0, tf.fill([tf.shape(memory)[0] * beam], 2), states)
        return tf.while_loop(lambda i, *_: i < count, body, start)[0]

    costs = {}
    for beam in beams:
        run(src, beam, 2)  # trace
        best = float("inf")
        for _ in range(3):  # the least disturbed of three runs
            start = time.perf_counter()
            run(src, beam, steps)
            best = min(best, time.perf_counter() - start)
        costs[f"beam{beam}_rows{len(sources) * beam}"] = round(
            best / steps / (len(sources) * beam) * 1e6, 1
        )
    return costs


def startup_seconds(model: str) -> tuple[float, float | None]:
    """Wall time from starting ``translate.py`` to reading its first translated line, and the
    peak memory of that process (MB)."""
    from first_answer import start_and_read  # bench/, beside this script

    seconds, _, proc = start_and_read(model, "How are you?")
    peak = _peak_rss_mb(proc.pid)
    proc.wait()
    return round(seconds, 2), peak


def _peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory of a running process (Linux ``VmHWM``), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHIPPED) if SHIPPED.is_dir() else None)
    parser.add_argument("--beams", default="1,5", help="comma-separated beam sizes")
    parser.add_argument("--data-dir", help="corpus catalogue directory")
    parser.add_argument("--limit", type=int, help="use only the first N test sentences")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    parser.add_argument(
        "--compare-exact",
        action="store_true",
        help="also run each beam > 1 with exact stopping (the default is the model's, heuristic)",
    )
    parser.add_argument(
        "--compare-prune",
        action="store_true",
        help="also run each beam > 1 without pruning (beam_prune 0; the default is the model's)",
    )
    parser.add_argument(
        "--startup-runs",
        type=int,
        default=5,
        help="fresh translate.py processes timed from start to first translation (median kept)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over the test split, each running every setting once (settings alternate); "
        "speed is a setting's median pass (the slower middle one for an even N), its ratio to "
        "greedy the median of the rounds' ratios",
    )
    parser.add_argument(
        "--max-batch-sizes",
        help="comma-separated decode.max_batch_size values to compare in this one run "
        "(default: the model's own); each result names its own",
    )
    parser.add_argument(
        "--step-cost",
        action="store_true",
        help="also time the decoder step per row at greedy's and each beam's batch shape",
    )
    args = parser.parse_args(argv)
    if args.model is None:
        parser.error(f"{SHIPPED} does not exist yet: give --model RUN_DIR")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    from nmt.env import prefer_onednn

    onednn = prefer_onednn()  # as translate.py does (TF_ENABLE_ONEDNN_OPTS=0 to compare)
    from nmt.checkpoint import resolve_run_dir
    from nmt.evaluate import rebuild_test_split
    from nmt.translator import Translator

    translator = Translator.from_checkpoint(args.model)
    sources, refs = rebuild_test_split(resolve_run_dir(args.model), args.data_dir)
    if args.limit:
        sources, refs = sources[: args.limit], refs[: args.limit]
    default, own_prune = translator.decode.stopping, translator.decode.beam_prune
    runs = [(int(b), default, own_prune) for b in args.beams.split(",")]
    if args.compare_exact and default != "exact":
        runs += [(beam, "exact", own_prune) for beam, _, _ in runs if beam > 1]
    if args.compare_prune and own_prune > 0:
        runs += [(beam, stop, 0.0) for beam, stop, _ in runs if beam > 1]
    own_batch_size = translator.decode.max_batch_size
    batch_sizes = [int(x) for x in (args.max_batch_sizes or str(own_batch_size)).split(",")]
    settings = [(size, *run) for size in batch_sizes for run in runs]
    results = measure_rounds(translator, sources, refs, settings, args.repeat)
    report = {
        "model": str(args.model),
        "parameters": int(translator.model.count_params()),
        "test_sentences": len(sources),
        "length_penalty": translator.decode.length_penalty,
        "cpu_count": os.cpu_count(),
        "onednn": onednn,
        "results": results,
        # this process: includes reading and splitting the whole corpus
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.step_cost:
        beams = sorted({1} | {beam for beam, _, _ in runs})
        report["decoder_step_us_per_row"] = step_cost(translator, sources[:200], beams)
    greedy_bleu = {r["max_batch_size"]: r["bleu"] for r in results if r["beam"] == 1}
    for r in results:
        if r["beam"] > 1 and r["max_batch_size"] in greedy_bleu:
            r["bleu_vs_greedy"] = round(r["bleu"] - greedy_bleu[r["max_batch_size"]], 2)
    if not args.no_startup:
        runs = [startup_seconds(str(args.model)) for _ in range(args.startup_runs)]
        times = sorted(seconds for seconds, _ in runs)
        report["start_to_first_translation_s"] = times[len(times) // 2]  # the median
        report["start_to_first_translation_runs_s"] = [seconds for seconds, _ in runs]
        report["translate_py_peak_memory_mb"] = max((p for _, p in runs if p), default=None)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
