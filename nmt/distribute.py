"""``tf.distribute`` strategies for training on several GPUs or several machines.

``mirrored``: one machine, every visible GPU (synchronous all-reduce). ``multi-worker``: several
machines described by the ``TF_CONFIG`` environment variable (``cluster.worker`` addresses and this
process's ``task.index``); every worker runs the same command and the gradients are all-reduced
each step, so every worker holds the same weights. Worker 0 is the chief: it writes the run
directory; the other workers keep their own copy (needed to resume them) in ``<run>.worker<i>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STRATEGIES = ("default", "mirrored", "multi-worker")


class DistributeError(ValueError):
    """A distribution strategy cannot be set up as asked."""


@dataclass
class WorkerInfo:
    """Where this process stands in a cluster (a single process is the chief worker 0 of 1)."""

    index: int = 0
    count: int = 1

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def tf_config_worker() -> WorkerInfo:
    """This worker's index and the worker count from ``TF_CONFIG`` (clear errors if malformed)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise DistributeError(
            "train.strategy=multi-worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    try:
        tf_config = json.loads(text)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        index = int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise DistributeError(f"TF_CONFIG is malformed ({err!r}): {text}") from err
    if task.get("type") != "worker" or "chief" in tf_config["cluster"]:
        raise DistributeError("TF_CONFIG: use only 'worker' tasks (worker 0 is the chief)")
    if not 0 <= index < len(workers):
        raise DistributeError(f"TF_CONFIG: task index {index} but {len(workers)} workers")
    return WorkerInfo(index, len(workers))


def make_strategy(name: str) -> tuple[Any, WorkerInfo]:
    """Create the strategy ``name`` (call before any other TensorFlow work); returns it and this
    process's worker info. ``default`` is TensorFlow's default (no-op) strategy."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy(), WorkerInfo()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(), WorkerInfo()
    if name == "multi-worker":
        worker = tf_config_worker()
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options), worker
    raise DistributeError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")


def worker_run_dir(run_dir: Path, worker: WorkerInfo) -> Path:
    """The chief writes ``run_dir``; worker ``i > 0`` writes its own ``<run_dir>.worker<i>``."""
    if worker.is_chief:
        return run_dir
    return run_dir.with_name(f"{run_dir.name}.worker{worker.index}")


def prepare_replicated_model(model: Any, multi_worker: bool) -> None:
    """Adapt a compiled Seq2Seq (created in the strategy's scope) to several replicas.

    * Divide the loss by the replicas in sync, so that the all-reduced (summed) gradients are
      those of the mean loss, as Keras does for its built-in losses (``Seq2Seq.compute_loss``
      returns a per-replica mean; Keras multiplies the logged loss back).
    * Build the optimizer here, in the scope, and skip Keras' "symbolic build" at the start of
      ``fit``: the model is already built, and that step takes a batch from the distributed
      dataset and tries to average it across replicas, which fails for dict inputs whose
      per-replica batches have different shapes (variable-length batches).
    * With several workers, work around Keras' reduction of scalar metrics (see below).
    """
    from keras.src.losses.loss import scale_loss_for_distribution

    compute_loss = model.compute_loss

    def scaled(x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = compute_loss(x, y, y_pred, sample_weight, training=training)
        return scale_loss_for_distribution(loss)

    model.compute_loss = scaled
    if multi_worker:
        # Keras reduces the step's logged metrics with strategy.reduce("MEAN", v, axis=0), which
        # fails on scalars under MultiWorkerMirroredStrategy: give them a batch axis of one
        model.train_step = _with_batch_axis(model.train_step)
        model.test_step = _with_batch_axis(model.test_step)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _with_batch_axis(step: Any) -> Any:
    """Wrap a train/test step so that its scalar outputs have shape ``(1,)``."""
    from keras import ops

    def wrapped(data):
        return {name: ops.reshape(value, (1,)) for name, value in step(data).items()}

    return wrapped
