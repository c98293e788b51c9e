"""``train(config, run_dir)``: data, tokenizers, model, ``fit`` with callbacks, final evaluation.

A run directory that already holds a training state is resumed from it: weights, optimizer,
epoch, position inside the epoch, learning rate, early-stopping state and dropout RNG state.
``train.epochs`` counts epochs in total, resumed ones included. ``init_from`` starts a new run
from an existing run's model and tokenizers (fine-tuning, see ``nmt.finetune``).

Each epoch is one ``model.fit`` call with its exact step count: Keras remembers the batch count
of a dataset of unknown length after its first epoch and would cut later epochs to it (wrong after
a resumed, shortened epoch, or when subword sampling changes the count).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from nmt import finetune
from nmt.batching import TrainingBatches
from nmt.checkpoint import (
    BEST_WEIGHTS,
    CONFIG_FILE,
    EPOCHS_DIR,
    LAST_WEIGHTS,
    LOG_FILE,
    SPLIT_FILE,
    epoch_weights_name,
    initial_metadata,
    load_tokenizers,
    read_metadata,
    save_weights,
    tokenizer_paths,
    update_metadata,
)
from nmt.config import Config, load_config, save_config
from nmt.cpu_lstm import use_cpu_kernel
from nmt.data import PreparedData, prepare_data, save_split
from nmt.distribute import WorkerInfo, make_strategy, prepare_replicated_model, worker_run_dir
from nmt.end_marks import learn_end_marks
from nmt.env import cpu_has_native_bf16, has_gpu, training_precision
from nmt.io import atomic_copy, atomic_write_text
from nmt.model import Seq2Seq, build_model
from nmt.optimizer import FusedAdam
from nmt.plots import PLOT_FILE, plot_history
from nmt.scoring import format_scores, score_corpus
from nmt.sentences import learn_sentence_splitting
from nmt.tokenizer import Tokenizer, train_tokenizer
from nmt.train_state import (
    BACKUP_DIR,
    STATE_FILE,
    TrainingError,
    TrainingState,
    check_resumable,
    has_state,
    load_state,
    save_state,
)
from nmt.translator import Translator


def log(message: str) -> None:
    print(f"[nmt] {message}", flush=True)


# --- run preparation ----------------------------------------------------------------------------
def prepare_tokenizers(
    config: Config, run_dir: Path, data: PreparedData
) -> tuple[Tokenizer, Tokenizer]:
    """Train SentencePiece on the training split only (or reuse the run's existing models)."""
    src_path, tgt_path = tokenizer_paths(run_dir, config.data.joint_vocab)
    if src_path.is_file() and tgt_path.is_file():
        return load_tokenizers(run_dir, config)
    d = config.data
    train = data.splits.train
    kwargs = dict(model_type=d.sp_model_type, character_coverage=d.character_coverage)
    if d.joint_vocab:
        texts = [p.src for p in train] + [p.tgt for p in train]
        joint = train_tokenizer(texts, src_path, d.vocab_size, **kwargs)
        return joint, joint
    src = train_tokenizer((p.src for p in train), src_path, d.vocab_size, **kwargs)
    tgt = train_tokenizer((p.tgt for p in train), tgt_path, d.vocab_size, **kwargs)
    return src, tgt


# --- callbacks ----------------------------------------------------------------------------------
def learning_rate_at(config: Config, state: TrainingState, minutes: float = 0.0) -> float:
    """Linear warm-up, then the configured decay (the plateau factor is in ``lr_scale``), and
    over the last ``train.cooldown`` share of ``train.max_minutes`` a linear fall to
    ``min_learning_rate`` (``minutes``: the training minutes so far)."""
    t = config.train
    step = state.step + 1
    lr = t.learning_rate
    if t.warmup_steps and step < t.warmup_steps:
        return lr * step / t.warmup_steps
    if t.lr_decay == "inverse_sqrt" and t.warmup_steps:
        lr *= (t.warmup_steps / step) ** 0.5
    lr *= state.lr_scale
    if t.cooldown and t.max_minutes is not None:
        left = (t.max_minutes - minutes) / (t.cooldown * t.max_minutes)
        lr *= min(1.0, max(0.0, left))
    return max(lr, t.min_learning_rate)


def keep_epoch_weights(run_dir: Path, epoch: int, keep: int) -> None:
    """Copy the epoch's ``last.weights.h5`` to ``epochs/epoch-NNNN.weights.h5`` and delete all
    but the ``keep`` latest epochs."""
    folder = Path(run_dir) / EPOCHS_DIR
    atomic_copy(Path(run_dir) / LAST_WEIGHTS, folder / epoch_weights_name(epoch))
    saved = sorted(folder.glob("epoch-*.weights.h5"))
    for old in saved[:-keep]:
        old.unlink()


class Trainer(keras.callbacks.Callback):
    """Per-batch learning rate, time limit and mid-epoch backups. Each ``fit`` call trains up to
    the next dev evaluation (an epoch's end, ``train.eval_steps`` steps, or the time limit); its
    end evaluates: dev BLEU, best/last checkpoints, reduce-on-plateau, early stopping,
    throughput and the resumable state."""

    def __init__(
        self,
        config: Config,
        run_dir: Path,
        state: TrainingState,
        batches: TrainingBatches,
        translator: Translator,
        inference_model: Seq2Seq,
        dev_src: list[str],
        dev_tgt: list[str],
        worker: WorkerInfo | None = None,
    ):
        super().__init__()
        self.config = config
        self.run_dir = run_dir
        self.state = state
        self.batches = batches
        self.translator = translator
        self.inference_model = inference_model
        self.dev_src, self.dev_tgt = dev_src, dev_tgt
        self.worker = worker or WorkerInfo()
        # time-based backups could fall on different steps on different workers
        self.backup_seconds = (
            config.train.backup_minutes * 60 if self.worker.count == 1 else float("inf")
        )
        self.epoch_steps = 0  # steps in the current epoch, set before each fit
        self.segment_end = 0  # the batch of the epoch at which this fit call ends
        self.stop = False  # early stopping or time limit reached
        self._epoch_start = 0.0
        self._train_end = None
        self._last_backup = time.time()
        self._session_start = time.time()
        self._elapsed_at_start = state.elapsed

    # learning rate and mid-epoch backups
    def _set_lr(self) -> None:
        # workers' clocks differ, and their rates must not: the cooldown is single-worker only
        minutes = self._elapsed() / 60 if self.worker.count == 1 else 0.0
        rate = learning_rate_at(self.config, self.state, minutes)
        self.model.optimizer.learning_rate.assign(rate)

    def on_train_batch_begin(self, batch, logs=None):
        self._set_lr()

    def on_train_batch_end(self, batch, logs=None):
        self.state.step += 1
        self.state.batch += 1
        self.state.since_eval += 1
        limit = self.config.train.max_minutes
        # workers' clocks differ: with several, a time-based stop waits for an evaluation (the
        # same step on all of them), as time-based backups do
        if self.worker.count == 1 and limit is not None and self._elapsed() >= limit * 60:
            log(f"time limit of {limit:g} minutes reached")
            self.stop = True
            self.model.stop_training = True  # Keras still runs the evaluation (on_epoch_end)
            return
        if self.state.batch >= self.segment_end:
            return  # the evaluation's backup follows
        every = self.config.train.backup_steps
        if (every and self.state.step % every == 0) or (
            time.time() - self._last_backup > self.backup_seconds
        ):
            self.save_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.time()

    def _dev_scores(self) -> dict[str, Any]:
        hyps = self.translator.translate(self.dev_src, beam_size=1)
        return score_corpus(hyps, self.dev_tgt)

    def on_epoch_end(self, epoch, logs=None):
        """A dev evaluation: the end of one ``fit`` call (not necessarily of an epoch)."""
        logs = logs if logs is not None else {}
        train_seconds = (self._train_end or time.time()) - self._epoch_start
        tokens = self.batches.tokens_last_epoch
        logs["tokens_per_sec"] = round(tokens / max(train_seconds, 1e-9), 1)
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        s = self.state
        epoch_done = s.batch >= self.epoch_steps
        if epoch_done:
            s.epoch, s.batch = s.epoch + 1, 0
        s.since_eval = 0
        # completed epochs, with the share of the current one (whole at epoch ends)
        progress = s.epoch if epoch_done else round(s.epoch + s.batch / self.epoch_steps, 3)
        start = time.time()
        self.inference_model.set_weights(self.model.get_weights())
        scores = self._dev_scores()
        logs["val_bleu"], logs["val_chrf"] = scores["bleu"], scores["chrf"]
        save_weights(self.inference_model, self.run_dir / LAST_WEIGHTS)
        if epoch_done and self.config.train.keep_epochs:
            keep_epoch_weights(self.run_dir, s.epoch, self.config.train.keep_epochs)
        if scores["bleu"] > s.best_bleu:
            s.best_bleu, s.best_epoch, s.best_step, s.wait = scores["bleu"], progress, s.step, 0
            save_weights(self.inference_model, self.run_dir / BEST_WEIGHTS)
        else:
            s.wait += 1
        # the learning rate follows dev loss: smoother than BLEU, and BLEU stays 0 early on
        val_loss = float(logs.get("val_loss", float("nan")))
        if np.isnan(val_loss):
            pass  # no dev loss (e.g. fewer dev batches than replicas): the rate stays
        elif val_loss < s.best_val_loss:
            s.best_val_loss, s.plateau_wait = val_loss, 0
        else:
            s.plateau_wait += 1
            t = self.config.train
            if t.lr_decay == "plateau" and s.plateau_wait >= t.plateau_patience:
                s.lr_scale *= t.plateau_factor
                s.plateau_wait = 0
                log(f"dev loss did not improve: learning rate scaled by {s.lr_scale:g}")
        row = {"epoch": progress, "step": s.step, **{k: float(v) for k, v in logs.items()}}
        row["minutes"] = round(self._elapsed() / 60, 3)
        s.history.append(row)
        write_log(self.run_dir / LOG_FILE, s.history)
        log(
            f"epoch {progress:g} (step {s.step}): dev BLEU {scores['bleu']:.2f} chrF "
            f"{scores['chrf']:.2f} (best {s.best_bleu:.2f} @ step {s.best_step}); "
            f"{logs['tokens_per_sec']:.0f} target tokens/s; dev eval {time.time() - start:.1f}s"
        )
        if s.wait >= self.config.train.patience:
            log(f"early stopping: no dev BLEU gain in {s.wait} evaluations")
            s.stopped_early = True
            self.stop = True
        limit = self.config.train.max_minutes
        if not self.stop and limit is not None and self._elapsed() >= limit * 60:
            log(f"time limit of {limit:g} minutes reached")  # during this evaluation
            self.stop = True
        self.save_state()
        try:
            plot_history(s.history, self.run_dir / PLOT_FILE)
        except Exception as err:  # a plot must never stop training (fonts, backends, disk)
            log(f"could not write {PLOT_FILE}: {err}")

    def _elapsed(self) -> float:
        return self._elapsed_at_start + time.time() - self._session_start

    def save_state(self) -> None:
        """Back up the resumable state (see ``nmt.train_state.save_state``)."""
        self.state.elapsed = self._elapsed()
        save_state(self.run_dir, self.model, self.state)
        self._last_backup = time.time()


def write_log(path: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite train_log.csv (one row per epoch) from the saved history, atomically, so that
    the log always agrees with the resumable state."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())


# --- main entry -----------------------------------------------------------------------------------
def _progress_bar() -> bool:
    """Keras' per-step progress bar at a terminal; one line per epoch in a log file or pipe
    (``NMT_PROGRESS=1`` / ``0`` decides instead)."""
    choice = os.environ.get("NMT_PROGRESS")
    if choice is not None:
        return choice == "1"
    return sys.stdout.isatty()


def compile_model(model: Seq2Seq, config: Config) -> None:
    """Adam with gradient clipping and the training LSTM kernel, as training uses them
    (benchmarks call it too)."""
    t = config.train
    adam = FusedAdam if t.fused_adam else keras.optimizers.Adam
    optimizer = adam(
        learning_rate=t.learning_rate,
        clipnorm=t.clipnorm or None,
        global_clipnorm=t.global_clipnorm or None,
    )
    model.compile(optimizer=optimizer, jit_compile=t.jit_compile)
    model.use_cpu_lstm(use_cpu_kernel(t.cpu_lstm and not t.jit_compile))


def check_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that training would damage: a folder of other files, or a trained
    run whose backup is gone (it would restart from scratch over the trained weights)."""
    if not run_dir.is_dir() and run_dir.exists():
        raise TrainingError(f"{run_dir} exists and is not a folder")
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    if not (run_dir / CONFIG_FILE).is_file():
        raise TrainingError(
            f"{run_dir} holds files but is not a run directory (no {CONFIG_FILE}): "
            "choose a new or empty folder for --out"
        )
    trained = [name for name in (BEST_WEIGHTS, LOG_FILE) if (run_dir / name).is_file()]
    if trained and not has_state(run_dir):
        raise TrainingError(
            f"{run_dir} holds a trained model ({', '.join(trained)}) but no backup state "
            f"({BACKUP_DIR}/{STATE_FILE}), so it cannot be resumed and training would start "
            f"over and overwrite it; train into a new --out, or start from its weights with "
            f"--init-from {run_dir} --out NEW_RUN"
        )


def train(
    config: Config, run_dir: str | Path, init_from: str | Path | None = None
) -> dict[str, Any]:
    """Train (or resume) a model in ``run_dir``; returns the final metadata.

    ``init_from``: a run directory (or shipped model name) to fine-tune: its tokenizers and best
    weights start the new run, with a fresh optimizer.
    """
    # a multi-worker strategy must exist before any other TensorFlow work in the process
    strategy, worker = make_strategy(config.train.strategy)
    run_dir = worker_run_dir(Path(run_dir), worker)
    parent_dir = None
    check_run_dir(run_dir)
    if (run_dir / CONFIG_FILE).is_file():
        config = check_resumable(load_config(run_dir / CONFIG_FILE), config)
        log(f"resuming the run in {run_dir}")
        metadata_path = run_dir / "metadata.json"
        if metadata_path.is_file():
            parent = json.loads(metadata_path.read_text(encoding="utf-8")).get("parent")
            parent_dir = Path(parent["path"]) if parent else None
    elif init_from is not None:
        parent_dir, parent_config = finetune.parent_config(init_from)
        finetune.check_child_config(parent_config, config)
        finetune.adopt_tokenizers(parent_dir, config, run_dir)
        log(f"fine-tuning from {parent_dir}: its tokenizers and best weights, a fresh optimizer")
    if worker.count > 1:
        log(f"worker {worker.index} of {worker.count}; this worker writes {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.rglob(".*.tmp*"):  # half-written files of a killed run (never renamed)
        stale.unlink()
    previous_policy = keras.mixed_precision.global_policy()
    try:
        return _train(config, run_dir, strategy, worker, parent_dir)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(
    config: Config, run_dir: Path, strategy: Any, worker: WorkerInfo, parent_dir: Path | None
) -> dict[str, Any]:
    t = config.train
    keras.utils.set_random_seed(t.seed)
    policy = training_precision(t.mixed_precision, has_gpu(), cpu_has_native_bf16())
    keras.mixed_precision.set_global_policy(policy)
    log(f"precision: {policy} (train.mixed_precision {t.mixed_precision})")

    data = prepare_data(config.data)
    # written once the data is read: a first run that fails on its corpus leaves no config
    # behind to refuse the corrected command as "a different config"
    save_config(config, run_dir / CONFIG_FILE)
    log(f"corpus {data.spec.name}: {data.report.summary()}")
    splits = data.splits
    log(f"split: {len(splits.train)} train, {len(splits.dev)} dev, {len(splits.test)} test pairs")
    if data.leaks is not None:
        log(f"given dev/test: {data.leaks.summary()}")
    save_split(run_dir / SPLIT_FILE, data)
    src_tok, tgt_tok = prepare_tokenizers(config, run_dir, data)
    log(f"vocabulary: {src_tok.vocabulary_size} src, {tgt_tok.vocabulary_size} tgt pieces")

    train_src = [p.src for p in splits.train]
    train_tgt = [p.tgt for p in splits.train]
    end_marks = learn_end_marks(train_src, train_tgt)
    sentences = learn_sentence_splitting(train_src)
    unknown = None
    if parent_dir is not None:
        unknown = finetune.unknown_rates(src_tok, tgt_tok, train_src, train_tgt)
        log(f"unknown pieces in the new corpus: src {unknown['src']:.2%}, tgt {unknown['tgt']:.2%}")
        warning = finetune.unknown_warning(unknown)
        if warning:
            log(warning)

    def sample_encode(epoch: int):
        import sentencepiece as spm

        spm.set_random_generator_seed(t.seed * 1000 + epoch)
        return (
            src_tok.encode(train_src, sample=True, alpha=t.sampling_alpha),
            tgt_tok.encode(train_tgt, sample=True, alpha=t.sampling_alpha),
        )

    batches = TrainingBatches.from_config(
        src_tok.encode(train_src),
        tgt_tok.encode(train_tgt),
        config,
        encode=sample_encode if t.subword_sampling else None,
        fixed_shapes=t.jit_compile,
        max_batches=t.steps_per_epoch,
    )
    replicas = strategy.num_replicas_in_sync
    if len(batches) == 0 or batches.steps(0, replicas) == 0:
        raise TrainingError(
            "no training batches: no pairs left after cleaning and length filtering"
            + (f", or fewer batches than the {replicas} replicas" if replicas > 1 else "")
        )
    dev_batches = TrainingBatches.from_config(
        src_tok.encode([p.src for p in splits.dev]),
        tgt_tok.encode([p.tgt for p in splits.dev]),
        config,
    )

    with strategy.scope():
        model = build_model(
            config.model, src_tok.vocabulary_size, tgt_tok.vocabulary_size, t.label_smoothing
        )
        fresh = not has_state(run_dir)
        if fresh and parent_dir is not None:
            finetune.load_parent_weights(model, parent_dir)  # before compile: no optimizer yet
            log(f"initialised from {parent_dir / BEST_WEIGHTS}")
        compile_model(model, config)
        if replicas > 1:
            prepare_replicated_model(model, multi_worker=worker.count > 1)
        state = load_state(run_dir, model, warn=log)
    inference_model = build_model(config.model, src_tok.vocabulary_size, tgt_tok.vocabulary_size)
    log(f"model: {model.count_params():,} parameters; strategy {t.strategy}, {replicas} replica(s)")
    if state is None:
        state = TrainingState()
        state.replicas = replicas
        extra: dict[str, Any] = {}
        if parent_dir is not None:
            extra = {"parent": finetune.parent_record(parent_dir), "unknown_piece_rate": unknown}
        if data.leaks is not None:
            extra["leaks"] = data.leaks.to_dict()
        extra["end_marks"] = end_marks
        extra["sentences"] = sentences
        update_metadata(
            run_dir,
            **initial_metadata(config, src_tok, tgt_tok, model),
            attribution=data.spec.attribution,
            licence=data.spec.licence,
            corpus_sha256=data.fingerprint,
            strategy=t.strategy,
            replicas=replicas,
            **extra,
        )
    else:
        if "sentences" not in read_metadata(run_dir):  # a run begun before they were learned
            update_metadata(run_dir, sentences=sentences)
        if state.replicas != replicas and state.batch:
            # a step was one batch per replica: keep the position in batches
            state.batch = state.batch * state.replicas // replicas
        state.replicas = replicas
        log(
            f"restored from {run_dir / BACKUP_DIR}: {state.epoch} epoch(s) done, {state.batch} "
            f"step(s) into epoch {state.epoch + 1}, step {state.step} in total; weights, "
            f"optimizer (iteration {int(model.optimizer.iterations.numpy())}), dropout RNG "
            f"({len(state.rng)} generators); best dev BLEU {state.best_bleu:.2f} @ epoch "
            f"{state.best_epoch}, early-stopping wait {state.wait}/{t.patience}, "
            f"lr scale {state.lr_scale:g}, {state.elapsed / 60:.1f} min trained"
        )

    dev_n = t.dev_eval_size or len(splits.dev)
    translator = _translator(
        config, inference_model, src_tok, tgt_tok, {"end_marks": end_marks, "sentences": sentences}
    )
    trainer = Trainer(
        config,
        run_dir,
        state,
        batches,
        translator,
        inference_model,
        [p.src for p in splits.dev[:dev_n]],
        [p.tgt for p in splits.dev[:dev_n]],
        worker=worker,
    )
    callbacks: list[keras.callbacks.Callback] = [trainer]
    if t.tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False)
        )
    distributed = strategy if replicas > 1 else None
    train_data = batches.dataset(distributed)
    dev_data = dev_batches.dataset_fixed(distributed)
    dev_steps = dev_batches.steps(0, replicas)
    finished = state.stopped_early or state.epoch >= t.epochs
    if t.max_minutes is not None and state.elapsed / 60 >= t.max_minutes:
        finished = True
    if finished:
        log("training already finished for this config (raise train.epochs to continue)")
    skipped = state.batch
    while not finished:
        epoch, evaluation = state.epoch, len(state.history)
        trainer.epoch_steps = batches.steps(epoch, replicas)
        steps = trainer.epoch_steps - state.batch
        if t.eval_steps:
            steps = min(steps, max(t.eval_steps - state.since_eval, 1))
        batches.epoch, batches.skip, batches.take = epoch, state.batch, steps
        trainer.segment_end = state.batch + steps
        if skipped:
            log(f"epoch {epoch + 1}: skipping {skipped} steps already trained")
            skipped = 0
        model.fit(
            train_data,
            epochs=evaluation + 1,  # Keras' epochs here count dev evaluations
            initial_epoch=evaluation,
            steps_per_epoch=steps,
            shuffle=False,  # batches are shuffled by TrainingBatches
            validation_data=dev_data if dev_steps else None,
            validation_steps=dev_steps or None,
            callbacks=callbacks,
            verbose=1 if _progress_bar() else 2,
        )
        if len(state.history) != evaluation + 1:
            raise TrainingError(f"epoch {epoch + 1}: training ended without its dev evaluation")
        finished = trainer.stop or state.epoch >= t.epochs
    return finish(config, run_dir, state, splits, src_tok, tgt_tok, inference_model)


def _translator(config: Config, model: Seq2Seq, src_tok, tgt_tok, metadata: dict) -> Translator:
    """A translator over the model in training (its weights change: not frozen)."""
    return Translator(model, src_tok, tgt_tok, config.decode, config=config, metadata=metadata)


def finish(config, run_dir, state, splits, src_tok, tgt_tok, inference_model) -> dict[str, Any]:
    """Evaluate the best checkpoint on the test split and record everything in metadata."""
    inference_model.load_weights(str(run_dir / BEST_WEIGHTS))
    translator = _translator(config, inference_model, src_tok, tgt_tok, read_metadata(run_dir))
    results: dict[str, Any] = {}
    if splits.test:
        src = [p.src for p in splits.test]
        ref = [p.tgt for p in splits.test]
        beams = sorted({1, config.decode.beam_size})
        for beam in beams:
            name = "greedy" if beam == 1 else f"beam{beam}"
            start = time.time()
            hyps = translator.translate(src, beam_size=beam)
            scores = score_corpus(hyps, ref, ("bleu", "chrf", "ter"))
            scores["seconds"] = round(time.time() - start, 2)
            results[name] = scores
            log(f"test split ({len(src)} pairs), {name}:\n{format_scores(scores)}")
    tokens_per_sec = [h["tokens_per_sec"] for h in state.history if "tokens_per_sec" in h]
    return update_metadata(
        run_dir,
        best_epoch=state.best_epoch,
        best_step=state.best_step,
        steps_trained=state.step,
        epochs_trained=state.epoch,
        dev_bleu=state.best_bleu,
        test_scores=results,
        split_counts={k: len(getattr(splits, k)) for k in ("train", "dev", "test")},
        training_seconds=round(state.elapsed, 1),
        train_tokens_per_sec=round(float(np.median(tokens_per_sec)), 1) if tokens_per_sec else None,
    )


__all__ = ["train", "TrainingError"]
