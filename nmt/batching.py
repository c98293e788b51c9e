"""Length-bucketed, token-budget batches for training, as a re-iterable ``tf.data.Dataset``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID


def budget_batches(
    lengths: np.ndarray,
    token_budget: int,
    max_batch_size: int,
    rng: np.random.Generator | None,
    multiple: int = 1,
) -> list[np.ndarray]:
    """Group example indices into batches of similar length.

    Examples are sorted by ``lengths`` (ties broken at random when ``rng`` is given), then cut into
    consecutive batches whose ``batch * padded_length`` stays within ``token_budget``. Padded
    lengths are rounded up to ``multiple``. Returns index arrays, shuffled when ``rng`` is given.
    """
    if len(lengths) == 0:
        return []
    noise = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
    order = np.lexsort((noise, lengths))
    batches, start = [], 0
    while start < len(order):
        end = start
        while end < len(order):
            padded = -(-int(lengths[order[end]]) // multiple) * multiple
            if (end - start + 1) * padded > token_budget and end > start:
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
        self.tokens_last_epoch = 0

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

    def epoch_batches(
        self, epoch: int, skip: int = 0
    ) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """The batches of ``epoch`` (a fixed order for a given seed), less the first ``skip``."""
        rng = np.random.default_rng([self.seed, epoch])
        src_ids, tgt_ids = self.src_ids, self.tgt_ids
        if self.encode is not None:
            src_ids, tgt_ids = self.encode(epoch)
            src_ids, tgt_ids = self._filter(src_ids, tgt_ids, self.max_tokens)
        lengths = np.array([max(len(s), len(t) + 1) for s, t in zip(src_ids, tgt_ids)])
        multiple = 8 if self.fixed_shapes else 1
        self.tokens_last_epoch = 0
        batches = budget_batches(
            lengths, self.token_budget, self.max_batch_size, rng, multiple=multiple
        )
        if self.max_batches is not None:
            batches = batches[: self.max_batches]
        for n, index in enumerate(batches):
            if n < skip:
                continue
            src = [src_ids[i] for i in index]
            tgt = [tgt_ids[i] for i in index]
            if self.fixed_shapes:
                # one shape per length bucket, so XLA compiles a handful of programs
                length = -(-int(max(lengths[index])) // 8) * 8
                if len(index) < min(self.max_batch_size, max(1, self.token_budget // length)):
                    continue  # a bucket's few leftovers wait for the next epoch's shuffle
                src_len = tgt_len = length
            else:
                src_len = max(len(s) for s in src)
                tgt_len = max(len(t) for t in tgt) + 1
            self.tokens_last_epoch += sum(len(t) + 1 for t in tgt)
            yield (
                {
                    "encoder_inputs": pad_batch(src, src_len),
                    "decoder_inputs": pad_batch([[BOS_ID] + t for t in tgt], tgt_len),
                },
                pad_batch([t + [EOS_ID] for t in tgt], tgt_len),
            )

    def dataset(self):
        """A ``tf.data.Dataset`` that yields the batches of epoch ``self.epoch`` each time it is
        iterated (the trainer sets ``epoch`` and ``skip`` before each epoch)."""

        def generate():
            yield from self.epoch_batches(self.epoch, self.skip)

        return self._dataset(generate)

    def dataset_fixed(self):
        """A dataset that yields the same (epoch 0) batches every time: for dev loss."""
        return self._dataset(lambda: self.epoch_batches(0))

    @staticmethod
    def _dataset(generate):
        import tensorflow as tf

        spec = tf.TensorSpec((None, None), tf.int32)
        return tf.data.Dataset.from_generator(
            generate,
            output_signature=({"encoder_inputs": spec, "decoder_inputs": spec}, spec),
        ).prefetch(4)
