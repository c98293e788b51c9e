"""Search strategies on hand-made step functions whose best sequences are known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from nmt.search import (
    NEG_INF,
    Finished,
    _Beams,
    _BeamSearch,
    beam_search,
    cannot_improve,
    ending_scores,
    extend,
    force_end,
    gnmt_penalty,
    greedy_search,
    merge_finished,
    next_rows,
    select_alive,
)

PAD, UNK, BOS, EOS = 0, 1, 2, 3
A, B, C, D = 4, 5, 6, 7
VOCAB = 8
NEVER = -30.0  # log-prob of tokens a step function never wants (pad, unk, bos)


def markov_step(table: dict[int, dict[int, float]], vocab: int = VOCAB):
    """A step function whose next-token distribution depends on the last token only (tokens
    the table does not name get ``NEVER``)."""
    matrix = np.full((vocab, vocab), NEVER, np.float32)
    for prev, nxt in table.items():
        for token, prob in nxt.items():
            matrix[prev, token] = math.log(prob)
    matrix = tf.constant(matrix)

    def step(tokens, states, context, rows):
        return tf.gather(matrix, tokens), states, None

    return step


# greedy takes A (0.6) then C (0.5) then EOS: p = 0.30; the best sequence is B EOS: p = 0.36
TRAP = {
    BOS: {A: 0.6, B: 0.4},
    A: {C: 0.5, D: 0.5},
    B: {EOS: 0.9, A: 0.1},
    C: {EOS: 1.0},
    D: {EOS: 1.0},
}


def run(search, step, batch=1, max_len=6, **kwargs):
    states = [tf.zeros([batch, 1])]
    context = tf.zeros([batch, 1])
    lengths = tf.fill([batch], max_len)
    return search(step, states, context, lengths, BOS, EOS, **kwargs)


def strip(row) -> list[int]:
    out = []
    for token in row.tolist():
        if token in (EOS, PAD):
            break
        out.append(token)
    return out


def test_greedy_follows_the_locally_best_token():
    result = run(greedy_search, markov_step(TRAP))
    assert strip(result.tokens[0, 0].numpy()) == [A, C]
    assert result.log_probs[0, 0].numpy() == pytest.approx(math.log(0.3), abs=1e-5)


def test_beam_finds_the_better_sequence_greedy_misses():
    result = run(beam_search, markov_step(TRAP), beam_size=2, length_penalty=0.0)
    assert strip(result.tokens[0, 0].numpy()) == [B]
    assert result.log_probs[0, 0].numpy() == pytest.approx(math.log(0.36), abs=1e-5)
    assert result.scores[0, 0].numpy() == pytest.approx(math.log(0.36), abs=1e-5)


def test_beam_size_one_is_exactly_greedy():
    step = markov_step(TRAP)
    greedy = run(greedy_search, step, batch=3)
    beam = run(beam_search, step, batch=3, beam_size=1)
    np.testing.assert_array_equal(greedy.tokens.numpy(), beam.tokens.numpy())
    np.testing.assert_allclose(greedy.log_probs.numpy(), beam.log_probs.numpy())


def test_n_best_lists_are_ordered_and_distinct():
    result = run(beam_search, markov_step(TRAP), beam_size=4, n_best=4, length_penalty=0.0)
    hyps = [tuple(strip(row)) for row in result.tokens[0].numpy()]
    scores = result.scores[0].numpy()
    assert hyps[0] == (B,)
    assert sorted(hyps[:3]) == sorted([(B,), (A, C), (A, D)])
    assert len(set(hyps)) == 4
    assert np.all(np.diff(scores) <= 0), scores
    expected = [math.log(p) for p in (0.36, 0.3, 0.3)]
    np.testing.assert_allclose(scores[:3], expected, atol=1e-5)


def test_length_normalisation_prefers_longer_with_alpha():
    # EOS at once: p = 0.5, normalised -0.69; A B C EOS: p = 0.405 (raw loses) but with alpha = 1
    # its length penalty (5 + 4) / 6 = 1.5 gives -0.60, so it wins
    table = {BOS: {EOS: 0.5, A: 0.5}, A: {B: 0.9, EOS: 0.1}, B: {C: 0.9, EOS: 0.1}, C: {EOS: 1.0}}
    step = markov_step(table)
    raw = run(beam_search, step, beam_size=3, length_penalty=0.0)
    assert strip(raw.tokens[0, 0].numpy()) == []
    normalised = run(beam_search, step, beam_size=3, length_penalty=1.0)
    assert strip(normalised.tokens[0, 0].numpy()) == [A, B, C]
    expected = math.log(0.5 * 0.9 * 0.9) / ((5 + 4) / 6)
    assert normalised.scores[0, 0].numpy() == pytest.approx(expected, abs=1e-5)
    assert normalised.log_probs[0, 0].numpy() == pytest.approx(math.log(0.405), abs=1e-5)


def test_exact_stopping_finds_a_longer_winner_the_heuristic_gives_up_on():
    # EOS at once: p = 0.6, score -0.51. A B C D EOS: p = 0.4, but alpha = 2 divides its
    # log-prob by ((5 + 5) / 6) ** 2 = 2.78: score -0.33 wins. After step 0 the heuristic bound
    # (A ending next: -0.92 / (7 / 6) ** 2 = -0.67) is below -0.51, so it stops; exact search
    # bounds with the longest length and goes on.
    table = {BOS: {EOS: 0.6, A: 0.4}, A: {B: 1.0}, B: {C: 1.0}, C: {D: 1.0}, D: {EOS: 1.0}}
    step = markov_step(table)
    kwargs = dict(max_len=6, beam_size=2, length_penalty=2.0)
    heuristic = run(beam_search, step, stopping="heuristic", **kwargs)
    assert strip(heuristic.tokens[0, 0].numpy()) == []
    exact = run(beam_search, step, stopping="exact", **kwargs)
    assert strip(exact.tokens[0, 0].numpy()) == [A, B, C, D]
    assert exact.scores[0, 0].numpy() == pytest.approx(math.log(0.4) / (10 / 6) ** 2, abs=1e-5)


def test_max_length_forces_an_end():
    step = markov_step({BOS: {A: 1.0}, A: {A: 0.99, EOS: 0.01}})
    result = run(beam_search, step, max_len=3, beam_size=2)
    assert strip(result.tokens[0, 0].numpy()) == [A, A, A]
    assert result.tokens.shape[-1] == 4  # three tokens and EOS


# --- exact search on a step function whose distribution depends on the whole prefix ---------
PRIME = 1009


def prefix_step(seed: int):
    """State = a hash of the whole prefix, so a beam that is reordered wrongly gives a wrong
    distribution. Tokens A, B, C and EOS are possible."""
    rng = np.random.default_rng(seed)
    table = np.full((PRIME, VOCAB), NEVER, np.float32)
    logits = rng.normal(size=(PRIME, 4)) * 2
    table[:, [EOS, A, B, C]] = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    table_t = tf.constant(table)

    def step(tokens, states, context, rows):
        (h,) = states
        h = (h * 31 + tokens) % PRIME
        return tf.gather(table_t, h), [h], None

    return step, table


def exhaustive_scores(table, start, max_len, alpha):
    """All sequences (EOS after at most ``max_len`` tokens) as (normalised score, tokens),
    best first: brute force over what ``prefix_step`` computes."""
    results = []
    for n in range(max_len + 1):
        for seq in itertools.product([A, B, C], repeat=n):
            h, total = start, 0.0
            prev = BOS
            for token in (*seq, EOS):
                h = (h * 31 + prev) % PRIME
                total += float(table[h, token])
                prev = token
            results.append((total / ((5 + n + 1) / 6) ** alpha, list(seq)))
    results.sort(key=lambda r: -r[0])
    return results


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_wide_beam_is_exact_search_for_a_batch(alpha):
    step, table = prefix_step(7)
    starts = [0, 5, 11]
    max_len = 3
    states = [tf.constant(starts, tf.int32)]
    result = beam_search(
        step,
        states,
        tf.zeros([3, 1]),
        tf.fill([3], max_len),
        BOS,
        EOS,
        beam_size=27,
        n_best=5,
        length_penalty=alpha,
        stopping="exact",
    )
    for row, start in enumerate(starts):
        best = exhaustive_scores(table, start, max_len, alpha)[:5]
        got = [strip(seq) for seq in result.tokens[row].numpy()]
        assert got == [seq for _, seq in best]
        np.testing.assert_allclose(result.scores[row].numpy(), [s for s, _ in best], atol=1e-4)


def test_small_beam_batch_matches_one_by_one():
    """Sentences in one batch do not influence each other."""
    step, _ = prefix_step(3)
    starts = [1, 2, 3, 4]
    together = beam_search(
        step, [tf.constant(starts)], tf.zeros([4, 1]), tf.constant([2, 5, 3, 6]), BOS, EOS,
        beam_size=3, n_best=2,
    )  # fmt: skip
    for row, (start, max_len) in enumerate(zip(starts, [2, 5, 3, 6])):
        alone = beam_search(
            step, [tf.constant([start])], tf.zeros([1, 1]), tf.constant([max_len]), BOS, EOS,
            beam_size=3, n_best=2,
        )  # fmt: skip
        for k in range(2):
            assert strip(together.tokens[row, k].numpy()) == strip(alone.tokens[0, k].numpy())
        np.testing.assert_allclose(together.scores[row].numpy(), alone.scores[0].numpy(), 1e-5)


@pytest.mark.parametrize("prune", [0.0, 1.0])
def test_attention_is_collected_and_reordered_with_the_beams(prune):
    """The step function 'attends' to source position = its state hash mod src_len (also
    when pruned beams have no row)."""
    step, _ = prefix_step(5)
    src_len = 4

    def attending(tokens, states, context, rows):
        log_probs, new_states, _ = step(tokens, states, context, rows)
        weights = tf.one_hot(new_states[0] % src_len, src_len)
        return log_probs, new_states, weights

    result = beam_search(
        attending, [tf.constant([0, 9])], tf.zeros([2, 1]), tf.constant([4, 4]), BOS, EOS,
        beam_size=3, n_best=2, src_len=tf.constant(src_len), prune=prune,
    )  # fmt: skip
    assert result.attention.shape[:3] == result.tokens.shape
    assert result.attention.shape[3] == src_len
    for row, start in enumerate([0, 9]):
        for k in range(2):
            seq = strip(result.tokens[row, k].numpy())
            h, prev = start, BOS
            for pos, token in enumerate([*seq, EOS]):
                h = (h * 31 + prev) % PRIME
                assert result.attention[row, k, pos].numpy().argmax() == h % src_len
                prev = token


def test_beam_search_runs_inside_tf_function_with_varying_shapes():
    step, _ = prefix_step(1)

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)],
        reduce_retracing=True,
    )
    def search(starts, max_lengths):
        return beam_search(step, [starts], tf.zeros([tf.shape(starts)[0], 1]), max_lengths,
                           BOS, EOS, beam_size=4, n_best=2)  # fmt: skip

    for n in (1, 3, 7):
        out = search(tf.range(n), tf.fill([n], 4))
        assert out.tokens.shape[:2] == (n, 2)
    assert search.experimental_get_tracing_count() == 1


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="n_best"):
        run(beam_search, markov_step(TRAP), beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="stopping"):
        run(beam_search, markov_step(TRAP), beam_size=2, stopping="never")


def test_penalty_is_gnmt():
    assert float(gnmt_penalty(tf.constant(1), 0.6)) == pytest.approx(1.0)
    assert float(gnmt_penalty(tf.constant(7), 1.0)) == pytest.approx(2.0)
    assert NEG_INF < -1e8


def test_greedy_batch_with_early_endings_matches_one_by_one():
    """Ended sentences leave the step function's batch; the others must not notice."""
    step, _ = prefix_step(11)
    starts, limits = [3, 8, 1, 6, 2], [1, 6, 2, 7, 4]

    def attending(tokens, states, context, rows):
        log_probs, new_states, _ = step(tokens, states, context, rows)
        return log_probs, new_states, tf.one_hot(new_states[0] % 3, 3) + context

    def search(rows):
        return greedy_search(
            attending,
            [tf.constant([starts[i] for i in rows])],
            tf.zeros([len(rows), 3]),
            tf.constant([limits[i] for i in rows]),
            BOS,
            EOS,
            src_len=tf.constant(3),
        )

    together = search(range(5))
    for row in range(5):
        alone = search([row])
        length = alone.tokens.shape[-1]
        np.testing.assert_array_equal(together.tokens[row, 0, :length], alone.tokens[0, 0])
        assert np.all(together.tokens[row, 0, length:].numpy() == PAD)
        assert together.log_probs[row, 0].numpy() == pytest.approx(
            float(alone.log_probs[0, 0]), 1e-5
        )
        np.testing.assert_allclose(together.attention[row, 0, :length], alone.attention[0, 0])


def test_beam_finds_the_better_sequence_in_a_large_vocabulary():
    """The trap again, among 3000 tokens the model never wants: the grouped top-k path."""
    step = markov_step(TRAP, vocab=3000)
    greedy = run(greedy_search, step)
    beam = run(beam_search, step, beam_size=3)
    assert strip(greedy.tokens[0, 0].numpy()) == [A, C]
    assert strip(beam.tokens[0, 0].numpy()) == [B]
    assert beam.log_probs[0, 0].numpy() == pytest.approx(math.log(0.36), abs=1e-5)


@pytest.mark.parametrize("prune", [0.0, 0.7])
def test_beam_context_stays_one_row_per_sentence(prune):
    """The step function gets the context with one row per sentence, also after finished
    sentences leave the batch, and ``Rows`` saying which sentence and beam each token row is:
    each sentence's distribution comes from its context row, so batched search equals
    one-by-one (pruning, too, is per sentence)."""
    step, _ = prefix_step(3)
    starts, limits = [3, 8, 1, 6], [2, 6, 3, 5]

    def from_context(tokens, states, context, rows):
        assert rows.beams == 3
        start = tf.gather(context[:, 0], rows.slots // rows.beams)
        tf.debugging.assert_less(rows.slots, tf.shape(context)[0] * 3, "slot past the batch")
        tf.debugging.assert_positive(rows.slots[1:] - rows.slots[:-1], "slots not increasing")
        (h,) = states
        first = tf.reduce_all(h < 0)  # the first step runs one row per sentence
        tf.debugging.assert_equal(
            tf.logical_or(tf.logical_not(first), tf.reduce_all(rows.slots % 3 == 0)), True
        )
        return step(tokens, [tf.where(h < 0, start, h)], context, rows)

    def search(rows):
        return beam_search(
            from_context,
            [tf.fill([len(rows)], -1)],  # -1: take the start from the context
            tf.constant([[starts[i]] for i in rows], tf.int32),
            tf.constant([limits[i] for i in rows]),
            BOS,
            EOS,
            beam_size=3,
            n_best=2 if prune == 0 else 1,
            prune=prune,
        )

    together = search(range(4))
    for row in range(4):
        alone = search([row])
        for k in range(together.tokens.shape[1]):
            assert strip(together.tokens[row, k].numpy()) == strip(alone.tokens[0, k].numpy())
        np.testing.assert_allclose(together.scores[row].numpy(), alone.scores[0].numpy(), 1e-5)
    starts_differ = {tuple(strip(together.tokens[row, 0].numpy())) for row in range(4)}
    assert len(starts_differ) > 1  # the context really steers the search


def test_pruned_beams_leave_the_step_and_the_best_survives():
    """After BOS, A is far likelier than B and C: with ``prune`` below their gap the step
    function gets one row per sentence, not three; the result is the unpruned search's best."""
    table = {BOS: {A: 0.9, B: 0.05, C: 0.05}, A: {D: 0.7, EOS: 0.3}, B: {EOS: 1.0},
             C: {EOS: 1.0}, D: {EOS: 1.0}}  # fmt: skip
    step = markov_step(table)
    seen: list[int] = []

    def counting(tokens, states, context, rows):
        seen.append(int(tf.size(tokens)))
        return step(tokens, states, context, rows)

    plain = run(beam_search, counting, batch=2, beam_size=3)
    plain_rows, seen[:] = list(seen), []
    pruned = run(beam_search, counting, batch=2, beam_size=3, prune=2.0)  # log(0.9/0.05) = 2.9
    assert plain_rows[:2] == [2, 6] and seen[:2] == [2, 2]
    assert sum(seen) < sum(plain_rows)
    np.testing.assert_array_equal(pruned.tokens[:, 0].numpy(), plain.tokens[:, 0].numpy())
    np.testing.assert_allclose(pruned.scores[:, 0].numpy(), plain.scores[:, 0].numpy())
    with pytest.raises(ValueError, match="prune"):
        run(beam_search, step, beam_size=3, prune=-1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pruning_only_narrows_the_search(seed):
    """A pruned search never finds a better hypothesis than the full one, and a margin no
    hypothesis falls below changes nothing."""
    step, _ = prefix_step(seed)
    starts = tf.constant([0, 5, 11, 17, 23])
    args = ([starts], tf.zeros([5, 1]), tf.fill([5], 6), BOS, EOS)
    full = beam_search(step, *args, beam_size=4, n_best=2)
    wide = beam_search(step, *args, beam_size=4, n_best=2, prune=1e6)
    narrow = beam_search(step, *args, beam_size=4, n_best=2, prune=0.5)
    np.testing.assert_array_equal(wide.tokens.numpy(), full.tokens.numpy())
    np.testing.assert_allclose(wide.scores.numpy(), full.scores.numpy())
    assert np.all(narrow.scores[:, 0].numpy() <= full.scores[:, 0].numpy() + 1e-5)


def test_search_normalises_logits_like_log_probabilities():
    """A step function may return unnormalised logits: greedy and beam results (tokens, scores)
    equal those of the same step returning log-softmaxed scores."""
    rng = np.random.default_rng(0)
    table = tf.constant(rng.normal(scale=3.0, size=(VOCAB, VOCAB)).astype(np.float32) + 7.0)

    def logits(tokens, states, context, rows):
        return tf.gather(table, tokens), states, None

    def log_probs(tokens, states, context, rows):
        return tf.nn.log_softmax(tf.gather(table, tokens)), states, None

    lengths = tf.constant([4, 6, 5])
    states = [tf.zeros([3, 1])]
    for beam in (1, 3):
        raw = beam_search(logits, states, (), lengths, BOS, EOS, beam_size=beam, n_best=beam)
        ref = beam_search(log_probs, states, (), lengths, BOS, EOS, beam_size=beam, n_best=beam)
        np.testing.assert_array_equal(raw.tokens.numpy(), ref.tokens.numpy())
        np.testing.assert_allclose(raw.log_probs.numpy(), ref.log_probs.numpy(), atol=1e-4)
        np.testing.assert_allclose(raw.scores.numpy(), ref.scores.numpy(), atol=1e-4)
        assert (ref.log_probs.numpy() < 0).all()


# --- the stages of one beam step, each alone on hand-made tensors ---------------------------------
def test_candidates_extend_live_beams_and_force_an_end_at_the_limit():
    """Sentence 0 (two live beams) takes its four best extensions over both beams; sentence 1
    is at its length limit (t=1, limit 1): its one live beam may only end."""
    search = _BeamSearch(
        None, (), tf.constant([5, 1]), EOS, 2, 1, 1.0, PAD, None, exact=False, prune=0.0
    )
    probs = [{A: 0.5, B: 0.3, EOS: 0.2}, {A: 0.9, EOS: 0.1}, {C: 0.75, EOS: 0.25}]
    scores = np.full((3, VOCAB), NEVER, np.float32)
    for row, dist in enumerate(probs):
        for token, p in dist.items():
            scores[row, token] = math.log(p)
    s = _Beams(
        t=tf.constant(1), rows=tf.constant([0, 1]), lengths=tf.constant([5, 1]),
        slots=tf.constant([0, 1, 2]), tokens=None, states=None, context=None,
        alive_log_probs=tf.constant([[-1.0, -2.0], [-0.5, NEG_INF]]),
        alive_seq=None, alive_attn=None, fin_scores=None, fin_log_probs=None, fin_seq=None,
        fin_attn=None,
    )  # fmt: skip
    top, parent, token = search._candidates(s, tf.constant(scores), tf.constant([0, 1, 2, 0]))
    want = [-1 + math.log(0.5), -2 + math.log(0.9), -1 + math.log(0.3), -1 + math.log(0.2)]
    np.testing.assert_allclose(top[0].numpy(), want, rtol=1e-5)
    assert parent[0].numpy().tolist() == [0, 1, 0, 0]
    assert token[0].numpy().tolist() == [A, A, B, EOS]
    assert top[1, 0].numpy() == pytest.approx(-0.5 + math.log(0.25), rel=1e-5)
    assert (top[1, 1:].numpy() <= NEG_INF).all()  # the empty beam and the padding
    assert parent[1].numpy().tolist() == [0, 1, 0, 1]
    assert token[1].numpy().tolist() == [EOS, EOS, PAD, PAD]


def test_force_end_replaces_only_forced_rows():
    top = tf.constant([[-1.0, -2.0, -3.0, -4.0], [-1.5, -2.5, -3.5, -4.5]])
    parent = tf.constant([[0, 1, 0, 1], [1, 1, 0, 0]])
    token = tf.constant([[A, B, C, D], [A, B, C, D]])
    eos_totals = tf.constant([[-7.0, -8.0], [-3.0, NEG_INF]])
    got = force_end(top, parent, token, eos_totals, tf.constant([False, True]), EOS, PAD)
    np.testing.assert_array_equal(got[0][0].numpy(), top[0].numpy())
    np.testing.assert_array_equal(got[0][1].numpy(), [-3.0, NEG_INF, NEG_INF, NEG_INF])
    assert got[1].numpy().tolist() == [[0, 1, 0, 1], [0, 1, 0, 1]]
    assert got[2].numpy().tolist() == [[A, B, C, D], [EOS, EOS, PAD, PAD]]


def test_select_alive_skips_endings_and_prunes():
    top = tf.constant([[-1.0, -2.0, -7.0, -9.0], [-1.0, -2.0, 2 * NEG_INF, 2 * NEG_INF]])
    is_eos = tf.constant([[False, True, False, False], [True, False, False, False]])
    scores, pick = select_alive(top, is_eos, 2, prune=0.0)
    np.testing.assert_array_equal(scores.numpy(), [[-1.0, -7.0], [-2.0, NEG_INF]])
    assert pick[0].numpy().tolist() == [0, 2] and pick[1, 0].numpy() == 1
    scores, _ = select_alive(top, is_eos, 2, prune=5.0)  # -7 is more than 5 below -1
    np.testing.assert_array_equal(scores.numpy(), [[-1.0, NEG_INF], [-2.0, NEG_INF]])


def test_next_rows_reorders_states_by_parent():
    """Current step rows: slot 1 (sentence 0, beam 1) is row 0, slot 2 (sentence 1, beam 0)
    is row 1. Both new beams of sentence 1 continue its beam 0; sentence 0 keeps one beam."""
    alive_scores = tf.constant([[-1.0, NEG_INF], [-2.0, -3.0]])
    alive_parent = tf.constant([[1, 0], [0, 0]])
    alive_token = tf.constant([[A, B], [C, D]])
    slots, source, tokens = next_rows(
        alive_scores, alive_parent, alive_token, tf.constant([0, 0, 1, 0])
    )
    assert slots.numpy().tolist() == [0, 2, 3]
    assert source.numpy().tolist() == [0, 1, 1]
    assert tokens.numpy().tolist() == [A, C, D]


def test_extend_gathers_parents_and_writes_step_t():
    buffer = tf.constant([[[A, PAD, PAD], [B, PAD, PAD]]])
    got = extend(buffer, tf.constant([[1, 1, 0]]), tf.constant(1), tf.constant([[C, D, A]]))
    assert got.numpy().tolist() == [[[B, C, PAD], [B, D, PAD], [A, A, PAD]]]


def test_ending_scores_normalise_only_real_endings():
    top = tf.constant([[-1.0, -2.0, 2 * NEG_INF]])
    is_eos = tf.constant([[True, False, True]])
    scores, log_probs = ending_scores(top, is_eos, tf.constant(2), alpha=1.0)
    # length 3 with EOS: penalty (5 + 3) / 6
    np.testing.assert_allclose(scores.numpy(), [[-0.75, NEG_INF, NEG_INF]], rtol=1e-6)
    np.testing.assert_array_equal(log_probs.numpy(), [[-1.0, NEG_INF, NEG_INF]])


def test_merge_finished_keeps_the_n_best_kept_ones_first_on_ties():
    seq = lambda *rows: tf.constant([list(rows)])  # noqa: E731
    kept = Finished(
        tf.constant([[-0.5, NEG_INF]]), tf.constant([[-1.0, NEG_INF]]), seq([A], [PAD]), None
    )
    ended = Finished(
        tf.constant([[-0.7, -0.2, -0.5, NEG_INF]]),
        tf.constant([[-1.4, -0.4, -0.9, NEG_INF]]),
        seq([B], [C], [D], [PAD]),
        None,
    )
    got = merge_finished(kept, ended, 2)
    np.testing.assert_allclose(got.scores.numpy(), [[-0.2, -0.5]])
    np.testing.assert_allclose(got.log_probs.numpy(), [[-0.4, -1.0]])
    assert got.seq.numpy().tolist() == [[[C], [A]]] and got.attn is None
    with_attn = merge_finished(
        kept._replace(attn=tf.constant([[[[1.0]], [[0.0]]]])),
        ended._replace(attn=tf.constant([[[[2.0]], [[3.0]], [[4.0]], [[0.0]]]])),
        2,
    )
    assert with_attn.attn.numpy().tolist() == [[[[3.0]], [[1.0]]]]


def test_cannot_improve_heuristic_exact_and_limits():
    t, lengths = tf.constant(1), tf.constant([10, 10, 10, 1])
    best_alive = tf.constant([-2.0, -2.0, NEG_INF, -2.0])
    worst = tf.constant([-1.4, -1.6, -5.0, -5.0])
    # heuristic bound: -2 / ((5 + 3) / 6) = -1.5; exact: -2 / ((5 + 11) / 6) = -0.75
    heuristic = cannot_improve(t, best_alive, worst, lengths, 1.0, exact=False)
    assert heuristic.numpy().tolist() == [True, False, True, True]
    exact = cannot_improve(t, best_alive, worst, lengths, 1.0, exact=True)
    assert exact.numpy().tolist() == [False, False, True, True]
