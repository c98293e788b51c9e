"""Length-bucketed batches: fixed order per (seed, epoch), resume skips, sharding for workers."""

import numpy as np
import pytest

from nmt.batching import TrainingBatches, budget_batches
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID


def make_batches(n=300, seed=7, **kwargs) -> TrainingBatches:
    rng = np.random.default_rng(0)
    src = [list(rng.integers(4, 50, rng.integers(1, 20))) for _ in range(n)]
    tgt = [list(rng.integers(4, 50, rng.integers(1, 20))) for _ in range(n)]
    values = dict(token_budget=120, max_batch_size=16, seed=seed, max_tokens=18)
    values.update(kwargs)
    return TrainingBatches(src, tgt, **values)


def as_tuples(batches):
    return [
        (x["encoder_inputs"].tobytes(), x["decoder_inputs"].tobytes(), y.tobytes())
        for x, y in batches
    ]


def test_budget_batches_respects_budget_and_covers_everything():
    lengths = np.random.default_rng(1).integers(1, 30, 500)
    batches = budget_batches(lengths, 100, 16, np.random.default_rng(2))
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))
    for index in batches:
        assert len(index) <= 16
        assert len(index) == 1 or len(index) * lengths[index].max() <= 100


def test_unpadded_budget_counts_real_tokens():
    lengths = np.array([1] * 20 + [9, 30])
    padded = budget_batches(lengths, 40, 64, rng=None)
    real = budget_batches(lengths, 40, 64, rng=None, padded=False)
    assert [lengths[b].tolist() for b in padded] == [[1] * 20, [9], [30]]  # 21*9, 2*30 > 40
    assert [lengths[b].tolist() for b in real] == [[1] * 20 + [9], [30]]  # 29 <= 40 < 59
    for index in real:
        assert len(index) == 1 or lengths[index].sum() <= 40


def test_epoch_order_is_fixed_per_seed_and_epoch_and_teacher_forcing_is_shifted():
    a, b = make_batches(), make_batches()
    assert as_tuples(a.epoch_batches(3)) == as_tuples(b.epoch_batches(3))
    assert as_tuples(a.epoch_batches(3)) != as_tuples(a.epoch_batches(4))
    x, y = next(a.epoch_batches(0))
    assert (x["decoder_inputs"][:, 0] == BOS_ID).all()
    for row_in, row_out in zip(x["decoder_inputs"], y):
        n = int((row_out != PAD_ID).sum())
        assert row_out[n - 1] == EOS_ID
        assert (row_in[1:n] == row_out[: n - 1]).all()  # labels are inputs shifted by one


def test_skip_resumes_inside_an_epoch():
    batches = make_batches()
    full = as_tuples(batches.epoch_batches(2))
    assert len(full) == batches.steps(2)
    assert as_tuples(batches.epoch_batches(2, skip=5)) == full[5:]


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_shards_split_each_step_and_take_equal_steps(fixed_shapes):
    batches = make_batches(fixed_shapes=fixed_shapes)
    full = as_tuples(batches.epoch_batches(1))
    shards = [
        as_tuples(batches.epoch_batches(1, shard=i, num_shards=2, replicas=2)) for i in (0, 1)
    ]
    steps = batches.steps(1, replicas=2)
    assert len(shards[0]) == len(shards[1]) == steps == len(full) // 2
    interleaved = [b for pair in zip(*shards) for b in pair]
    assert interleaved == full[: 2 * steps]
    # resuming a sharded epoch skips whole steps on every worker
    assert (
        as_tuples(batches.epoch_batches(1, skip=3, shard=1, num_shards=2, replicas=2))
        == (shards[1][3:])
    )


def test_fixed_shapes_are_multiples_of_eight_and_skip_counts_kept_batches():
    batches = make_batches(fixed_shapes=True)
    kept = list(batches.epoch_batches(0))
    assert kept and all(x["encoder_inputs"].shape[1] % 8 == 0 for x, _ in kept)
    assert len(kept) == batches.steps(0)
    assert as_tuples(batches.epoch_batches(0, skip=2)) == as_tuples(kept)[2:]


def test_bad_sharding_is_an_error():
    with pytest.raises(ValueError, match="sharding"):
        next(make_batches().epoch_batches(0, shard=2, num_shards=2, replicas=2))
