"""Length-bucketed, token-budget batches for training, as a re-iterable ``tf.data.Dataset``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID

if TYPE_CHECKING:
    from nmt.config import Config


def budget_batches(
    lengths: np.ndarray,
    token_budget: int,
    max_batch_size: int,
    rng: np.random.Generator | None,
    multiple: int = 1,
    padded: bool = True,
) -> list[np.ndarray]:
    """Group example indices into batches of similar length.

    Examples are sorted by ``lengths`` (ties broken at random when ``rng`` is given), then cut into
    consecutive batches whose ``batch * padded_length`` stays within ``token_budget`` (with
    ``padded=False`` their sum of lengths: for work that skips padding). Padded lengths are
    rounded up to ``multiple``. Returns index arrays, shuffled when ``rng`` is given.
    """
    if len(lengths) == 0:
        return []
    noise = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
    order = np.lexsort((noise, lengths))
    batches, start = [], 0
    while start < len(order):
        end, total = start, 0
        while end < len(order):
            length = -(-int(lengths[order[end]]) // multiple) * multiple
            total += length
            tokens = (end - start + 1) * length if padded else total
            if tokens > token_budget and end > start:
                break
            end += 1
            if end - start >= max_batch_size:
                break
        batches.append(order[start:end])
        start = end
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pad_batch(sequences: list[list[int]], length: int | None = None) -> np.ndarray:
    """Right-pad id lists with PAD_ID into an int32 array of shape (batch, length)."""
    length = length or max(len(s) for s in sequences)
    out = np.full((len(sequences), length), PAD_ID, dtype=np.int32)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = seq[:length]
    return out


def _bucket(lengths: np.ndarray, index: np.ndarray) -> int:
    """Padded length of a fixed-shape batch: its longest example rounded up to 8."""
    return -(-int(max(lengths[index])) // 8) * 8


class TrainingBatches:
    """Epoch-by-epoch batches of (inputs, labels) for teacher forcing.

    ``inputs`` is ``{"encoder_inputs": (batch, src_len), "decoder_inputs": (batch, tgt_len)}`` and
    labels are ``(batch, tgt_len)``: decoder inputs start with BOS, labels end with EOS. With
    ``encode`` (subword sampling) the text is re-encoded every epoch; otherwise ids are fixed.
    """

    def __init__(
        self,
        src_ids: list[list[int]],
        tgt_ids: list[list[int]],
        token_budget: int,
        max_batch_size: int,
        seed: int,
        max_tokens: int,
        encode: Callable[[int], tuple[list[list[int]], list[list[int]]]] | None = None,
        fixed_shapes: bool = False,
        max_batches: int | None = None,
    ):
        self.src_ids, self.tgt_ids = self._filter(src_ids, tgt_ids, max_tokens)
        self.token_budget = token_budget
        self.max_batch_size = max_batch_size
        self.seed = seed
        self.max_tokens = max_tokens
        self.encode = encode
        self.fixed_shapes = fixed_shapes
        self.max_batches = max_batches  # cut every epoch short (quick runs, benchmarks)
        self.epoch = 0  # set by the trainer before each epoch (resume sets it too)
        self.skip = 0  # batches of this epoch already trained (resume inside an epoch)
        self.take: int | None = None  # steps the next pass yields (None: to the epoch's end)
        self.tokens_last_epoch = 0  # real target tokens of the last pass
        self._plan: tuple[int, tuple] | None = None  # (epoch, epoch_plan(epoch))

    @classmethod
    def from_config(
        cls, src_ids: list[list[int]], tgt_ids: list[list[int]], config: Config, **extra: Any
    ) -> TrainingBatches:
        """Batches as ``config`` sets them (its token budget, sentence cap and seed, its data
        length limit); ``extra``: the other arguments."""
        t = config.train
        return cls(
            src_ids,
            tgt_ids,
            token_budget=t.token_budget,
            max_batch_size=t.max_batch_size,
            seed=t.seed,
            max_tokens=config.data.max_tokens,
            **extra,
        )

    @staticmethod
    def _filter(src_ids, tgt_ids, max_tokens):
        keep = [
            i
            for i, (s, t) in enumerate(zip(src_ids, tgt_ids))
            if 0 < len(s) <= max_tokens and 0 < len(t) <= max_tokens
        ]
        return [src_ids[i] for i in keep], [tgt_ids[i] for i in keep]

    def __len__(self) -> int:
        return len(self.src_ids)

    def real_target_tokens(self) -> int:
        """Non-padding label tokens in one epoch (target pieces + EOS)."""
        return sum(len(t) + 1 for t in self.tgt_ids)

    def epoch_plan(
        self, epoch: int
    ) -> tuple[list[list[int]], list[list[int]], np.ndarray, list[np.ndarray]]:
        """The ids, lengths and batch index arrays of ``epoch`` (a fixed order for a given seed).

        With ``fixed_shapes``, a bucket's few leftovers that would make an odd shape are left out
        here, so that step counts (and resume positions) refer to batches actually trained.
        """
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]  # an epoch is read in several passes; sampling is costly
        rng = np.random.default_rng([self.seed, epoch])
        src_ids, tgt_ids = self.src_ids, self.tgt_ids
        if self.encode is not None:
            src_ids, tgt_ids = self.encode(epoch)
            src_ids, tgt_ids = self._filter(src_ids, tgt_ids, self.max_tokens)
        lengths = np.array([max(len(s), len(t) + 1) for s, t in zip(src_ids, tgt_ids)])
        multiple = 8 if self.fixed_shapes else 1
        batches = budget_batches(
            lengths, self.token_budget, self.max_batch_size, rng, multiple=multiple
        )
        if self.fixed_shapes:
            # one shape per length bucket, so XLA compiles a handful of programs; a bucket's few
            # leftovers wait for the next epoch's shuffle
            batches = [
                index
                for index in batches
                if len(index)
                >= min(self.max_batch_size, max(1, self.token_budget // _bucket(lengths, index)))
            ]
        if self.max_batches is not None:
            batches = batches[: self.max_batches]
        self._plan = (epoch, (src_ids, tgt_ids, lengths, batches))
        return src_ids, tgt_ids, lengths, batches

    def steps(self, epoch: int, replicas: int = 1) -> int:
        """Optimizer steps in ``epoch`` when each step takes one batch per replica."""
        return len(self.epoch_plan(epoch)[3]) // replicas

    def epoch_batches(
        self,
        epoch: int,
        skip: int = 0,
        shard: int = 0,
        num_shards: int = 1,
        replicas: int = 1,
        take: int | None = None,
    ) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """The batches of ``epoch`` (a fixed order for a given seed), less the first ``skip`` steps,
        and only ``take`` steps when given (training between two dev evaluations).

        Distributed training: a step takes ``replicas`` batches, one per replica in sync; input
        pipeline ``shard`` of ``num_shards`` (one per worker) yields its workers' share of each
        step, in order. Every pipeline yields the same number of batches (the epoch is cut to a
        multiple of ``replicas``), so all workers take the same number of steps.
        """
        if replicas % num_shards or not 0 <= shard < num_shards:
            raise ValueError(f"bad sharding: shard {shard} of {num_shards}, {replicas} replicas")
        src_ids, tgt_ids, lengths, batches = self.epoch_plan(epoch)
        local = replicas // num_shards
        self.tokens_last_epoch = 0
        end = len(batches) // replicas
        if take is not None:
            end = min(end, skip + take)
        for step in range(skip, end):
            for j in range(local):
                index = batches[step * replicas + shard * local + j]
                yield self._make_batch(src_ids, tgt_ids, lengths, index)

    def _make_batch(self, src_ids, tgt_ids, lengths, index):
        """Inputs and labels for the examples ``index``, right-padded."""
        src = [src_ids[i] for i in index]
        tgt = [tgt_ids[i] for i in index]
        if self.fixed_shapes:
            src_len = tgt_len = _bucket(lengths, index)
        else:
            src_len = max(len(s) for s in src)
            tgt_len = max(len(t) for t in tgt) + 1
        self.tokens_last_epoch += sum(len(t) + 1 for t in tgt)
        return (
            {
                "encoder_inputs": pad_batch(src, src_len),
                "decoder_inputs": pad_batch([[BOS_ID] + t for t in tgt], tgt_len),
            },
            pad_batch([t + [EOS_ID] for t in tgt], tgt_len),
        )

    def dataset(self, strategy=None):
        """A dataset that yields the batches of epoch ``self.epoch`` each time it is iterated (the
        trainer sets ``epoch``, ``skip`` and ``take``, in steps, before each pass).

        With a ``tf.distribute`` strategy of several replicas it is a distributed dataset: each
        worker's input pipeline yields only its own replicas' batches (no auto-sharding).
        """
        if strategy is None or strategy.num_replicas_in_sync == 1:
            return self._dataset(lambda: self.epoch_batches(self.epoch, self.skip, take=self.take))

        def dataset_fn(context):
            def generate():
                yield from self.epoch_batches(
                    self.epoch,
                    self.skip,
                    context.input_pipeline_id,
                    context.num_input_pipelines,
                    context.num_replicas_in_sync,
                    take=self.take,
                )

            return self._dataset(generate)

        return strategy.distribute_datasets_from_function(dataset_fn)

    def dataset_fixed(self, strategy=None):
        """A dataset that yields the same (epoch 0) batches every time: for dev loss."""
        fixed = TrainingBatches.__new__(TrainingBatches)
        fixed.__dict__.update(self.__dict__)
        fixed.epoch, fixed.skip, fixed.take = 0, 0, None
        return fixed.dataset(strategy)

    @staticmethod
    def _dataset(generate):
        import tensorflow as tf

        spec = tf.TensorSpec((None, None), tf.int32)
        return tf.data.Dataset.from_generator(
            generate,
            output_signature=({"encoder_inputs": spec, "decoder_inputs": spec}, spec),
        ).prefetch(4)
