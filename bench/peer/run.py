#!/usr/bin/env python3
"""Side by side: our ``train.py`` defaults against OpenNMT-py's LSTM, same data, same wall time.

One command runs both, one after the other, on one machine:
1. a leak-free train/dev/test split of the corpus (``nmt.data``), written as plain text files;
2. ``train.py`` with its defaults on those files (``--dev``/``--test`` given, ``--max-minutes``);
3. OpenNMT-py 3.5.1 (CPU torch, in its own venv that this script creates from
   ``bench/peer/requirements.txt``) on the same files, tokenized with the SentencePiece model(s)
   our run trained, for the same minutes of training (then stopped; its last checkpoint is used);
4. both translate the same test file (greedy and beam 5), scored with sacreBLEU (13a, cased).

Prints JSON: BLEU greedy / beam 5, chrF, target tokens/s, updates, minutes, for both.

    python bench/peer/run.py --corpus tatoeba-deu-eng --src de --tgt en --minutes 20
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
PEER_VENV = HERE / ".venv"

# OpenNMT-py's LSTM recipe (its documented defaults where the issue does not name a value):
# biLSTM encoder of 2 layers (256 per direction), two 512 LSTM decoder layers (its decoder
# starts from the encoder's per-layer final states, so the layer counts must match), dot attention,
# 64 sentences a batch, Adam 1e-3 at a constant rate, label smoothing 0.1, dropout 0.3,
# uniform +-0.1 initialisation, global gradient norm clipped at 5
PEER_OPTIONS = {
    "encoder_type": "brnn",
    "decoder_type": "rnn",
    "rnn_type": "LSTM",
    "enc_layers": 2,
    "dec_layers": 2,
    "hidden_size": 512,
    "word_vec_size": 256,
    "global_attention": "dot",
    "batch_size": 64,
    "batch_type": "sents",
    "optim": "adam",
    "learning_rate": 0.001,
    "label_smoothing": 0.1,
    "dropout": [0.3],
    "param_init": 0.1,
    "max_grad_norm": 5,
    "seed": 1234,
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def prepare_files(args, work: Path) -> dict[str, Path]:
    """The leak-free split of the corpus as ``{train,dev,test}.{src,tgt}`` text files."""
    from nmt.config import load_config
    from nmt.data import prepare_data

    overrides = [
        f"data.corpus={args.corpus}",
        f"data.src_lang={args.src}",
        f"data.tgt_lang={args.tgt}",
        f"data.dev_size={args.dev_size}",
        f"data.test_size={args.test_size}",
    ]
    if args.pairs:
        overrides.append(f"data.max_pairs={args.pairs}")
    data = prepare_data(load_config(None, overrides).data)
    files = {}
    for split in ("train", "dev", "test"):
        pairs = getattr(data.splits, split)
        for side in ("src", "tgt"):
            name = f"{split}.{side}"
            files[name] = write_lines(work / name, [getattr(p, side) for p in pairs])
    log(f"split: {len(data.splits.train)} train, {len(data.splits.dev)} dev, "
        f"{len(data.splits.test)} test pairs in {work}")
    return files


def count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def score(hyp_path: Path, ref_path: Path) -> dict:
    from nmt.scoring import score_corpus

    hyps = hyp_path.read_text(encoding="utf-8").split("\n")[:-1]
    refs = ref_path.read_text(encoding="utf-8").split("\n")[:-1]
    scores = score_corpus(hyps, refs)
    return {"bleu": scores["bleu"], "chrf": scores["chrf"]}


def run_ours(args, files: dict[str, Path], work: Path) -> dict:
    run = work / "ours"
    command = [
        sys.executable, str(REPO / "train.py"),
        "--corpus", f"{files['train.src']},{files['train.tgt']}",
        "--dev", f"{files['dev.src']},{files['dev.tgt']}",
        "--test", f"{files['test.src']},{files['test.tgt']}",
        "--src", args.src, "--tgt", args.tgt,
        "--max-minutes", str(args.minutes),
        "--out", str(run),
    ] + [item for pair in args.ours_set for item in ("--set", pair)]
    log("ours: " + " ".join(command[1:]))
    start = time.time()
    with open(work / "ours.log", "w", encoding="utf-8") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True,
                       env=dict(os.environ, NMT_PROGRESS="0"))
    wall = time.time() - start
    metadata = json.loads((run / "metadata.json").read_text(encoding="utf-8"))
    result = {
        "parameters": metadata.get("parameters"),
        "updates": metadata.get("steps_trained"),
        "training_minutes": round(metadata["training_seconds"] / 60, 2),
        "process_minutes": round(wall / 60, 2),
        "target_tokens_per_sec": metadata.get("train_tokens_per_sec"),
        "best_step": metadata.get("best_step"),
        "leaks": metadata.get("leaks"),
    }
    for name, beam in (("greedy", 1), ("beam5", 5)):
        hyp = work / f"ours.{name}.txt"
        subprocess.run(
            [sys.executable, str(REPO / "translate.py"), "-m", str(run), "-i",
             str(files["test.src"]), "-o", str(hyp), "--beam", str(beam), "--quiet"],
            check=True,
        )
        result[name] = score(hyp, files["test.tgt"])
    return result


def peer_python() -> Path:
    """The peer's venv (created on first use from bench/peer/requirements.txt)."""
    python = PEER_VENV / "bin" / "python"
    if not python.is_file():
        log(f"creating {PEER_VENV} (OpenNMT-py 3.5.1, CPU torch)")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["-r", str(HERE / "requirements.txt")], check=True)
        # its metadata pins torch<2.3, whose Linux wheels on PyPI are CUDA builds of several GB;
        # 3.5.1 trains and translates on the CPU torch of requirements.txt
        subprocess.run(pip + ["--no-deps", "OpenNMT-py==3.5.1"], check=True)
    return python


def encode_pieces(model: Path, src: Path, out: Path) -> Path:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    lines = src.read_text(encoding="utf-8").split("\n")[:-1]
    return write_lines(out, [" ".join(p) for p in sp.encode(lines, out_type=str)])


def decode_pieces(model: Path, src: Path, out: Path) -> Path:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    lines = src.read_text(encoding="utf-8").split("\n")[:-1]
    return write_lines(out, [sp.decode_pieces(line.split()) for line in lines])


def run_peer(args, files: dict[str, Path], work: Path) -> dict:
    import yaml

    python = peer_python()
    peer = work / "peer"
    peer.mkdir(exist_ok=True)
    tokenizer = work / "ours" / "tokenizer"
    joint = (tokenizer / "joint.model").is_file()
    src_model = tokenizer / ("joint.model" if joint else "src.model")
    tgt_model = tokenizer / ("joint.model" if joint else "tgt.model")
    sp = {}
    for split in ("train", "test"):
        name = f"{split}.src"
        sp[name] = encode_pieces(src_model, files[name], peer / f"{name}.sp")
    sp["train.tgt"] = encode_pieces(tgt_model, files["train.tgt"], peer / "train.tgt.sp")
    options = dict(PEER_OPTIONS)
    options["input_feed"] = 0 if args.peer_no_input_feed else 1
    if joint:
        options["share_vocab"] = True
        options["share_embeddings"] = True
    config = {
        "data": {"corpus_1": {"path_src": str(sp["train.src"]), "path_tgt": str(sp["train.tgt"])}},
        "src_vocab": str(peer / "vocab.src"),
        "tgt_vocab": str(peer / "vocab.tgt"),
        "src_vocab_size": 100000,
        "tgt_vocab_size": 100000,
        "src_seq_length": 100,
        "tgt_seq_length": 100,
        "save_data": str(peer / "data"),
        "save_model": str(peer / "model"),
        "save_checkpoint_steps": args.peer_checkpoint_steps,
        "keep_checkpoint": 2,
        "train_steps": 10_000_000,
        "valid_steps": 10_000_000,
        "report_every": 50,
        "log_file": str(peer / "train.log"),
        "overwrite": True,
        **options,
    }
    config_path = peer / "config.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    bin_dir = python.parent
    subprocess.run([str(bin_dir / "onmt_build_vocab"), "-config", str(config_path),
                    "-n_sample", "-1"], check=True, capture_output=True)
    log(f"peer: onmt_train for {args.minutes} minutes (input_feed={options['input_feed']})")
    start = time.time()
    with open(peer / "stdout.log", "w", encoding="utf-8") as out:
        process = subprocess.Popen([str(bin_dir / "onmt_train"), "-config", str(config_path)],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        started = None
        while process.poll() is None:
            time.sleep(1)
            text = (peer / "train.log").read_text(encoding="utf-8") if (
                peer / "train.log").is_file() else ""
            if started is None and "Start training loop" in text:
                started = time.time()
            if started is not None and time.time() - started >= args.minutes * 60:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
                break
    if started is None:
        raise SystemExit("peer training did not start: see " + str(peer / "stdout.log"))
    checkpoints = sorted(peer.glob("model_step_*.pt"), key=lambda p: int(p.stem.split("_")[-1]))
    if not checkpoints:
        raise SystemExit("peer saved no checkpoint: see " + str(peer / "train.log"))
    last = checkpoints[-1]
    steps = int(last.stem.split("_")[-1])
    text = (peer / "train.log").read_text(encoding="utf-8")
    rates = [int(tgt) for _, tgt in re.findall(r"(\d+)/\s*(\d+) tok/s", text)]
    result = {
        "parameters": None,
        "updates": steps,
        "training_minutes": round((time.time() - started) / 60, 2),
        "process_minutes": round((time.time() - start) / 60, 2),
        "target_tokens_per_sec": round(sum(rates) / len(rates), 1) if rates else None,
        "input_feed": options["input_feed"],
    }
    match = re.search(r"\* number of parameters: (\d+)", text)
    if match:
        result["parameters"] = int(match.group(1))
    for name, beam in (("greedy", 1), ("beam5", 5)):
        pieces = peer / f"test.{name}.sp"
        subprocess.run(
            [str(bin_dir / "onmt_translate"), "-model", str(last), "-src", str(sp["test.src"]),
             "-output", str(pieces), "-beam_size", str(beam), "-batch_size", "64",
             "-max_length", "200"],
            check=True, capture_output=True,
            # torch >= 2.6 loads weights only by default; these checkpoints are OpenNMT-py's
            # own, written by the run above
            env=dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1"),
        )
        hyp = decode_pieces(tgt_model, pieces, work / f"peer.{name}.txt")
        result[name] = score(hyp, files["test.tgt"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="any corpus spec train.py takes")
    parser.add_argument("--src", required=True)
    parser.add_argument("--tgt", required=True)
    parser.add_argument("--minutes", type=float, default=20.0, help="training minutes, each")
    parser.add_argument("--pairs", type=int, default=None, help="sample this many pairs first")
    parser.add_argument("--dev-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--work", help="output folder (default runs/peer-bench/CORPUS-SRC-TGT)")
    parser.add_argument("--skip-ours", action="store_true", help="reuse WORK/ours")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-no-input-feed", action="store_true",
                        help="OpenNMT-py without input feeding (our decoder's shape)")
    parser.add_argument("--peer-checkpoint-steps", type=int, default=100)
    parser.add_argument("--ours-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a --set for our train.py (default: none, our defaults)")
    args = parser.parse_args(argv)
    name = Path(args.corpus).name.replace(",", "_")
    work = Path(args.work or REPO / "runs" / "peer-bench" / f"{name}-{args.src}-{args.tgt}")
    work.mkdir(parents=True, exist_ok=True)
    files = prepare_files(args, work)
    report = {
        "corpus": args.corpus,
        "pair": f"{args.src}-{args.tgt}",
        "minutes": args.minutes,
        "cpu_count": os.cpu_count(),
        "train_pairs": count_lines(files["train.src"]),
        "test_pairs": count_lines(files["test.src"]),
    }
    if not args.skip_ours:
        report["ours"] = run_ours(args, files, work)
        log(f"ours: {json.dumps(report['ours'])}")
    if not args.skip_peer:
        report["peer"] = run_peer(args, files, work)
        log(f"peer: {json.dumps(report['peer'])}")
    if "ours" in report and "peer" in report:
        report["bleu_beam5_ours_minus_peer"] = round(
            report["ours"]["beam5"]["bleu"] - report["peer"]["beam5"]["bleu"], 2
        )
        ours_rate = report["ours"]["target_tokens_per_sec"]
        peer_rate = report["peer"]["target_tokens_per_sec"]
        if ours_rate and peer_rate:
            report["tokens_per_sec_ours_over_peer"] = round(ours_rate / peer_rate, 3)
    text = json.dumps(report, indent=1)
    (work / "report.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
