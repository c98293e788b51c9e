"""Search strategies over a step function; they know nothing of the model's insides.

A step function has the signature ``step_fn(tokens, states, context, rows) -> (scores, states,
attention)``: ``tokens`` ``(rows,)`` int32, ``states`` any nest of ``(rows, ...)`` tensors,
``context`` a nest of ``(sentences, ...)`` tensors that never change during search (the encoder
memory), ``scores`` ``(rows, vocab)`` logits or log-probabilities (the search normalises them:
a log-softmax leaves log-probabilities as they are), ``attention`` ``(rows, src_len)`` or None.
``rows`` tells which sentence (context row) each row belongs to: None in greedy search (row
``i`` is sentence ``i``), and a ``Rows`` in beam search, whose beams that are empty or pruned
have no row at all. The context is never copied per beam: attention over it is one small matrix
product per sentence.
All functions here are traceable inside ``tf.function``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from nmt.decoding import STOPPING, SearchResult
from nmt.vocab_kernels import NEG_INF, argmax_and_normalizer, to_slots, top_extensions_at_slots


class Rows(NamedTuple):
    """Where the rows of a beam step sit: row ``i`` is beam ``slots[i] % beams`` of sentence
    ``slots[i] // beams`` (its context row). ``slots`` ``(rows,)`` int32, increasing; a step
    function that needs one row per slot scatters into ``(sentences * beams, ...)``."""

    slots: tf.Tensor
    beams: int


StepFn = Callable[[tf.Tensor, Any, Any, "Rows | None"], tuple[tf.Tensor, Any, Any]]


def greedy_search(
    step_fn: StepFn,
    states: Any,
    context: Any,
    max_lengths: tf.Tensor,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    src_len: tf.Tensor | None = None,
) -> SearchResult:
    """Pick the most likely token at each step until every sentence has emitted EOS.

    ``max_lengths`` ``(batch,)``: a sentence that reaches its limit is given EOS. Sentences that
    have ended are dropped from the step function's batch (states and context are compacted), so
    one long sentence does not keep the whole batch computing. With ``src_len`` set, attention
    weights are collected.
    """
    batch = tf.shape(max_lengths)[0]
    limit = tf.reduce_max(max_lengths) + 1
    collect = src_len is not None
    out = tf.fill([batch, limit], tf.constant(pad_id, tf.int32))
    attn = tf.zeros([batch, limit, src_len] if collect else [0], tf.float32)
    loop = (
        tf.constant(0),
        tf.range(batch),  # rows of the full batch still running, (active,)
        tf.fill([batch], tf.constant(bos_id, tf.int32)),
        states,
        context,
        tf.cast(max_lengths, tf.int32),
        tf.zeros([batch], tf.float32),
        out,
        attn,
    )

    def cond(t, rows, *_):
        return tf.logical_and(t < limit, tf.size(rows) > 0)

    def body(t, rows, tokens, states, context, lengths, total, out, attn):
        scores, states, weights = step_fn(tokens, states, context, None)
        scores = tf.cast(scores, tf.float32)
        best, normalizer = argmax_and_normalizer(scores)
        best = tf.where(t >= lengths, eos_id, best)
        at = tf.stack([rows, tf.fill(tf.shape(rows), t)], axis=1)
        total = tf.tensor_scatter_nd_add(
            total, rows[:, None], tf.gather(scores, best, batch_dims=1) - normalizer
        )
        out = tf.tensor_scatter_nd_update(out, at, best)
        if collect:
            if weights is None:
                weights = tf.zeros([tf.size(rows), src_len], tf.float32)
            attn = tf.tensor_scatter_nd_update(attn, at, tf.cast(weights, tf.float32))
        running = tf.not_equal(best, eos_id)
        rows, tokens, states, context, lengths = tf.cond(
            tf.reduce_all(running),
            lambda: (rows, best, states, context, lengths),
            lambda: _keep(running, (rows, best, states, context, lengths)),
        )
        return t + 1, rows, tokens, states, context, lengths, total, out, attn

    def free(x):  # the batch dimension shrinks as sentences end
        return tf.TensorShape([None]).concatenate(x.shape[1:])

    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.TensorShape([None]),
        tf.nest.map_structure(free, states),
        tf.nest.map_structure(free, context),
        tf.TensorShape([None]),
        tf.TensorShape([None]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None, None] if collect else [0]),
    )
    t, _, _, _, _, _, total, out, attn = tf.while_loop(
        cond, body, loop, shape_invariants=invariants, maximum_iterations=limit
    )
    result = out[:, None, :t]  # (batch, 1, length)
    attention = attn[:, None, :t] if collect else attn
    return SearchResult(result, total[:, None], total[:, None], attention)


def _keep(mask: tf.Tensor, nest: Any) -> Any:
    """Every ``(batch, ...)`` tensor of a nest at the rows where ``mask`` ``(batch,)`` is true
    (one index computation, then one gather per tensor: cheaper to trace than boolean_mask)."""
    index = tf.reshape(tf.where(mask), [-1])
    return tf.nest.map_structure(lambda x: tf.gather(x, index), nest)


def gnmt_penalty(lengths: tf.Tensor, alpha: float) -> tf.Tensor:
    """GNMT length penalty ``((5 + |Y|) / 6) ** alpha``; ``lengths`` count the EOS token."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def beam_search(
    step_fn: StepFn,
    states: Any,
    context: Any,
    max_lengths: tf.Tensor,
    bos_id: int,
    eos_id: int,
    beam_size: int = 5,
    n_best: int = 1,
    length_penalty: float = 0.6,
    pad_id: int = 0,
    src_len: tf.Tensor | None = None,
    stopping: str = "heuristic",
    prune: float = 0.0,
) -> SearchResult:
    """Batched beam search with GNMT length normalisation, in one ``tf.while_loop``.

    All sentences and all their beams run together as rows of ``step_fn`` (at most
    ``batch * beam_size``; see ``Rows``). A hypothesis that emits EOS joins its sentence's
    finished list, which keeps the ``n_best`` best by normalised score
    ``log_prob / gnmt_penalty(length, length_penalty)``. A sentence is done when no alive
    hypothesis can still beat its ``n_best``-th finished one: with ``stopping="exact"`` even if
    every further token had probability 1 and the hypothesis grew to its maximum length (the
    bound of GNMT / tensor2tensor); with ``"heuristic"`` (OpenNMT, Hugging Face) if it ended at
    the next step, which stops far sooner and rarely changes the result. At ``max_lengths``
    ``(batch,)`` only EOS may follow. ``prune`` > 0: an alive hypothesis whose log-probability
    is more than ``prune`` below its sentence's best alive one is dropped (GNMT's pruning,
    Sockeye's ``--beam-prune``), and its row leaves the step function's batch; 0 keeps all.
    ``beam_size=1`` is exactly ``greedy_search`` (scores normalised the same way). Returns a
    SearchResult, hypotheses best first; with ``src_len`` set, attention is collected.
    """
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(
            f"need beam_size >= 1 and 1 <= n_best <= beam_size, got {beam_size} and {n_best}"
        )
    if stopping not in STOPPING:
        raise ValueError(f"stopping must be one of {STOPPING}, got {stopping!r}")
    if not prune >= 0.0:
        raise ValueError(f"prune must be >= 0, got {prune}")
    alpha = float(length_penalty)
    if beam_size == 1:
        result = greedy_search(
            step_fn, states, context, max_lengths, bos_id, eos_id, pad_id, src_len
        )
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(result.tokens, pad_id), tf.int32), axis=-1)
        return result._replace(scores=result.log_probs / gnmt_penalty(lengths, alpha))
    search = _BeamSearch(
        step_fn, context, max_lengths, eos_id, beam_size, n_best, alpha, pad_id, src_len,
        exact=stopping == "exact", prune=float(prune),
    )  # fmt: skip
    return search.run(states, bos_id)


class _Beams(NamedTuple):
    """Loop state. Sentences still searching are ``rows`` of the batch; their ``alive_*`` are
    ``(active, beam, ...)`` (an empty or pruned beam has log-prob ``NEG_INF``) and ``context``
    ``(active, ...)``. Only live beams have a step row: ``slots`` ``(live,)`` (see ``Rows``),
    ``tokens`` ``(live,)`` and ``states`` ``(live, ...)``. ``fin_*`` are ``(batch, n_best, ...)``
    for the whole batch. Sequences are ``(..., limit)``, attention ``(..., limit, src_len)`` or
    an empty tensor."""

    t: tf.Tensor
    rows: tf.Tensor
    lengths: tf.Tensor
    slots: tf.Tensor
    tokens: tf.Tensor
    states: Any
    context: Any
    alive_log_probs: tf.Tensor
    alive_seq: tf.Tensor
    alive_attn: tf.Tensor
    fin_scores: tf.Tensor
    fin_log_probs: tf.Tensor
    fin_seq: tf.Tensor
    fin_attn: tf.Tensor


def _write(buffer: tf.Tensor, t: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """``buffer`` ``(batch, k, limit, ...)`` with position ``t`` of axis 2 set to ``values``
    ``(batch, k, ...)``."""
    at_t = tf.equal(tf.range(tf.shape(buffer)[2]), t)
    at_t = tf.reshape(at_t, [1, 1, -1] + [1] * (len(buffer.shape) - 3))
    return tf.where(at_t, tf.expand_dims(values, 2), buffer)


def _gather(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """``x`` ``(batch, k, ...)``, ``index`` ``(batch, m)`` -> ``(batch, m, ...)``."""
    return tf.gather(x, index, batch_dims=1)


def _free_batch(x: tf.Tensor) -> tf.TensorShape:
    return tf.TensorShape([None]).concatenate(x.shape[1:])


# --- the stages of one beam step -----------------------------------------------------------------
# Each works on the sentences still searching (``active`` of them, ``beam`` slots each) and is
# tested alone in tests/test_search.py; ``_BeamSearch._advance`` runs them in this order.


def force_end(
    top_scores: tf.Tensor,
    parent: tf.Tensor,
    token: tf.Tensor,
    eos_totals: tf.Tensor,
    forced: tf.Tensor,
    eos_id: int,
    pad_id: int,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """At its length limit a sentence may only end: its candidates become its beams + EOS.

    ``top_scores``, ``parent``, ``token`` ``(active, 2 * beam)``: the candidates (total
    log-prob, parent beam, token); ``eos_totals`` ``(active, beam)``: each beam's total if it
    ended now (``NEG_INF`` for an empty beam); ``forced`` ``(active,)`` bool. Returns the three
    ``(active, 2 * beam)`` with each forced row's first ``beam`` candidates its beams ending in
    EOS and the rest empty (``NEG_INF``, ``pad_id``). Patching after the top-k is cheaper than
    masking the whole vocabulary."""
    beam = eos_totals.shape[1]
    ending = tf.concat([eos_totals, tf.fill(tf.shape(eos_totals), NEG_INF)], 1)
    slots = tf.range(2 * beam)[None]
    forced = forced[:, None]
    top_scores = tf.where(forced, ending, top_scores)
    parent = tf.where(forced, slots % beam, parent)
    token = tf.where(forced, tf.where(slots < beam, eos_id, pad_id), token)
    return top_scores, parent, token


def select_alive(
    top_scores: tf.Tensor, is_eos: tf.Tensor, beam: int, prune: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """The next alive beams: the ``beam`` best candidates that do not end, less those pruned.

    ``top_scores``, ``is_eos`` ``(active, 2 * beam)`` -> their log-probs ``(active, beam)``,
    best first, ``NEG_INF`` for an empty or pruned beam, and their places among the candidates
    ``(active, beam)``. ``prune`` > 0 drops a beam more than ``prune`` below its sentence's best.
    """
    alive_scores, pick = tf.math.top_k(tf.where(is_eos, NEG_INF, top_scores), k=beam)
    alive_scores = tf.maximum(alive_scores, NEG_INF)
    if prune > 0:
        pruned = alive_scores < alive_scores[:, :1] - prune
        alive_scores = tf.where(pruned, NEG_INF, alive_scores)
    return alive_scores, pick


def next_rows(
    alive_scores: tf.Tensor, alive_parent: tf.Tensor, alive_token: tf.Tensor, row_of: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """State reordering: the next step's rows and the current rows they continue.

    ``alive_scores``, ``alive_parent`` (parent beam), ``alive_token`` ``(active, beam)``;
    ``row_of`` ``(active * beam,)`` the current step row of each slot. Returns ``slots``
    ``(live,)`` int32 of the live new beams (see ``Rows``), ``source`` ``(live,)`` the current
    row each one continues (gather the step's states with it) and ``tokens`` ``(live,)``."""
    beam = alive_scores.shape[1]
    active = tf.shape(alive_scores)[0]
    live = tf.reshape(alive_scores > NEG_INF / 2, [-1])
    slots = tf.cast(tf.reshape(tf.where(live), [-1]), tf.int32)
    parent_slot = tf.reshape(alive_parent + tf.range(active)[:, None] * beam, [-1])
    source = tf.gather(row_of, tf.gather(parent_slot, slots))
    tokens = tf.gather(tf.reshape(alive_token, [-1]), slots)
    return slots, source, tokens


def extend(buffer: tf.Tensor, parent: tf.Tensor, t: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """Sequences (or attention) continued: ``buffer`` ``(active, beam, limit, ...)`` gathered
    at ``parent`` ``(active, m)`` beams, with position ``t`` set to ``values``
    ``(active, m, ...)`` -> ``(active, m, limit, ...)``."""
    return _write(_gather(buffer, parent), t, values)


def ending_scores(
    top_scores: tf.Tensor, is_eos: tf.Tensor, t: tf.Tensor, alpha: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Length-normalised scores of the candidates that end at step ``t`` (length ``t + 1``).

    ``top_scores``, ``is_eos`` ``(active, 2 * beam)`` -> normalised scores
    ``log_prob / gnmt_penalty(t + 1, alpha)`` and log-probs ``(active, 2 * beam)``, both
    ``NEG_INF`` for candidates that do not end or are empty."""
    valid = top_scores > NEG_INF / 2
    ended = tf.where(
        tf.logical_and(is_eos, valid), top_scores / gnmt_penalty(t + 1, alpha), NEG_INF
    )
    return ended, tf.where(ended > NEG_INF / 2, top_scores, NEG_INF)


class Finished(NamedTuple):
    """Finished hypotheses of the active sentences: ``scores`` (normalised) and ``log_probs``
    ``(active, k)``, ``seq`` ``(active, k, limit)``, ``attn`` ``(active, k, limit, src_len)``
    or None when attention is not collected."""

    scores: tf.Tensor
    log_probs: tf.Tensor
    seq: tf.Tensor
    attn: tf.Tensor | None


def merge_finished(kept: Finished, ended: Finished, n_best: int) -> Finished:
    """Finished-hypothesis bookkeeping: the ``n_best`` best by normalised score of those kept
    ``(active, n_best, ...)`` and those ending now ``(active, 2 * beam, ...)``, best first
    (ties: kept ones first) -> ``(active, n_best, ...)``."""
    scores, pick = tf.math.top_k(tf.concat([kept.scores, ended.scores], 1), k=n_best)

    def take(old: tf.Tensor, new: tf.Tensor) -> tf.Tensor:
        return _gather(tf.concat([old, new], 1), pick)

    attn = None if kept.attn is None else take(kept.attn, ended.attn)
    return Finished(scores, take(kept.log_probs, ended.log_probs), take(kept.seq, ended.seq), attn)


def cannot_improve(
    t: tf.Tensor,
    best_alive: tf.Tensor,
    worst_finished: tf.Tensor,
    lengths: tf.Tensor,
    alpha: float,
    exact: bool,
) -> tf.Tensor:
    """``(active,)`` bool: the sentence is done, its best alive log-prob ``best_alive``
    ``(active,)`` cannot beat its ``n_best``-th finished score ``worst_finished`` ``(active,)``
    (or it has no alive beam, or reached its length limit ``lengths`` ``(active,)``). Exact:
    the best normalised score an alive one could still reach is at the longest length when
    alpha >= 0 (the shortest when alpha < 0, an odd but legal setting). Heuristic: its score
    if it ended at the next step."""
    bound = best_alive / gnmt_penalty(t + 2, alpha)
    if exact:
        longest = best_alive / gnmt_penalty(lengths + 1, alpha)
        bound = tf.maximum(longest, bound)
    return tf.logical_or(
        tf.logical_or(worst_finished >= bound, best_alive <= NEG_INF / 2),
        t >= lengths,
    )


class _BeamSearch:
    """The pieces of ``beam_search``: initial state, loop condition, one step, the result.

    A sentence that is done leaves the step function's batch (its rows are dropped from states
    and context), so one long sentence does not keep the whole batch computing; so does a beam
    that is empty (step 0 has one) or pruned.
    """

    def __init__(
        self, step_fn, context, max_lengths, eos_id, beam, n_best, alpha, pad_id, src_len, exact,
        prune,
    ):  # fmt: skip
        self.step_fn = step_fn
        self.exact = exact
        self.prune = prune
        self.context = context
        self.max_lengths = tf.cast(max_lengths, tf.int32)
        self.eos_id, self.beam, self.n_best, self.alpha = eos_id, beam, n_best, alpha
        self.pad_id = pad_id
        self.collect = src_len is not None
        self.src_len = src_len
        self.batch = tf.shape(max_lengths)[0]
        self.limit = tf.reduce_max(self.max_lengths) + 1

    def _attn_buffer(self, k: int) -> tf.Tensor:
        if not self.collect:
            return tf.zeros([0], tf.float32)
        return tf.zeros([self.batch, k, self.limit, self.src_len], tf.float32)

    def run(self, states: Any, bos_id: int) -> SearchResult:
        batch, beam, n = self.batch, self.beam, self.n_best
        first_only = tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], 0)  # one live beam at t=0
        init = _Beams(
            t=tf.constant(0),
            rows=tf.range(batch),
            lengths=self.max_lengths,
            slots=tf.range(batch) * beam,  # step 0 runs one row per sentence
            tokens=tf.fill([batch], tf.constant(bos_id, tf.int32)),
            states=states,
            context=self.context,
            alive_log_probs=tf.tile(first_only[None], [batch, 1]),
            alive_seq=tf.fill([batch, beam, self.limit], tf.constant(self.pad_id, tf.int32)),
            alive_attn=self._attn_buffer(beam),
            fin_scores=tf.fill([batch, n], NEG_INF),
            fin_log_probs=tf.fill([batch, n], NEG_INF),
            fin_seq=tf.fill([batch, n, self.limit], tf.constant(self.pad_id, tf.int32)),
            fin_attn=self._attn_buffer(n),
        )
        invariants = tf.nest.map_structure(_free_batch, init)._replace(
            t=tf.TensorShape([]),
            fin_scores=tf.TensorShape([None, n]),
            fin_log_probs=tf.TensorShape([None, n]),
            fin_seq=tf.TensorShape([None, n, None]),
            fin_attn=tf.TensorShape([None, n, None, None] if self.collect else [0]),
        )
        if not self.collect:
            invariants = invariants._replace(alive_attn=tf.TensorShape([0]))
        final = tf.while_loop(
            self._cond,
            self._body,
            (init,),
            shape_invariants=(invariants,),
            maximum_iterations=self.limit,
        )[0]
        return self._result(final)

    def _cond(self, s: _Beams) -> tf.Tensor:
        return tf.logical_and(s.t < self.limit, tf.size(s.rows) > 0)

    def _body(self, s: _Beams):
        rows = Rows(s.slots, self.beam)
        scores, states, weights = self.step_fn(s.tokens, s.states, s.context, rows)
        return (self._advance(s, tf.cast(scores, tf.float32), states, weights),)

    def _advance(self, s: _Beams, scores, states, weights) -> _Beams:
        """One search step from the step function's outputs for ``s``'s live beams (``scores``
        ``(live, vocab)`` float32, ``states`` ``(live, ...)``, ``weights`` ``(live, src_len)``
        or None): candidates, the alive beams and their rows, the finished hypotheses, then the
        sentences that are done leave."""
        beam, t = self.beam, s.t
        slot_count = tf.shape(s.rows)[0] * beam
        # the row of each slot (0 for a slot without one: its log-prob is NEG_INF)
        row_of = to_slots(tf.range(tf.size(s.slots)), s.slots, slot_count, 0)
        top_scores, parent, token = self._candidates(s, scores, row_of)
        is_eos = tf.equal(token, self.eos_id)

        alive_scores, pick = select_alive(top_scores, is_eos, beam, self.prune)
        alive_parent, alive_token = _gather(parent, pick), _gather(token, pick)
        slots, source, tokens = next_rows(alive_scores, alive_parent, alive_token, row_of)
        states = tf.nest.map_structure(lambda x: tf.gather(x, source), states)
        alive_seq = extend(s.alive_seq, alive_parent, t, alive_token)

        ended_scores, ended_log_probs = ending_scores(top_scores, is_eos, t, self.alpha)
        ended = Finished(ended_scores, ended_log_probs, extend(s.alive_seq, parent, t, token), None)
        kept = Finished(
            tf.gather(s.fin_scores, s.rows),
            tf.gather(s.fin_log_probs, s.rows),
            tf.gather(s.fin_seq, s.rows),
            None,
        )
        alive_attn = s.alive_attn
        if self.collect:
            weights = self._beam_weights(s, weights, slot_count)
            alive_attn = extend(s.alive_attn, alive_parent, t, _gather(weights, alive_parent))
            ended = ended._replace(attn=extend(s.alive_attn, parent, t, _gather(weights, parent)))
            kept = kept._replace(attn=tf.gather(s.fin_attn, s.rows))
        fin = merge_finished(kept, ended, self.n_best)
        done = cannot_improve(
            t, alive_scores[:, 0], fin.scores[:, -1], s.lengths, self.alpha, self.exact
        )

        rows = s.rows[:, None]  # the finished lists cover the whole batch
        fin_attn = s.fin_attn
        if self.collect:
            fin_attn = tf.tensor_scatter_nd_update(s.fin_attn, rows, fin.attn)
        new = _Beams(
            t + 1, s.rows, s.lengths, slots, tokens, states, s.context, alive_scores, alive_seq,
            alive_attn,
            tf.tensor_scatter_nd_update(s.fin_scores, rows, fin.scores),
            tf.tensor_scatter_nd_update(s.fin_log_probs, rows, fin.log_probs),
            tf.tensor_scatter_nd_update(s.fin_seq, rows, fin.seq),
            fin_attn,
        )  # fmt: skip
        return tf.cond(tf.reduce_any(done), lambda: self._drop(new, done), lambda: new)

    def _beam_weights(self, s: _Beams, weights: tf.Tensor | None, slot_count) -> tf.Tensor:
        """The step's attention ``(live, src_len)`` (None: a model without attention, reported
        as zeros) placed at its slots: ``(active, beam, src_len)``."""
        if weights is None:
            weights = tf.zeros([tf.size(s.slots), self.src_len], tf.float32)
        weights = to_slots(tf.cast(weights, tf.float32), s.slots, slot_count, 0.0)
        return tf.reshape(weights, [tf.shape(s.rows)[0], self.beam, -1])

    def _drop(self, s: _Beams, done: tf.Tensor) -> _Beams:
        """``s`` without the sentences that are ``done`` ``(active,)``."""
        keep = tf.logical_not(done)
        per_sentence = ["rows", "lengths", "alive_log_probs", "alive_seq"]
        if self.collect:
            per_sentence.append("alive_attn")
        kept = _keep(keep, {name: getattr(s, name) for name in per_sentence})
        kept["context"] = _keep(keep, s.context)
        sentence = s.slots // self.beam
        renumbered = tf.gather(tf.cumsum(tf.cast(keep, tf.int32)) - 1, sentence)
        live = {
            "slots": renumbered * self.beam + s.slots % self.beam,
            "tokens": s.tokens,
            "states": s.states,
        }
        kept.update(_keep(tf.gather(keep, sentence), live))
        return s._replace(**kept)

    def _candidates(self, s: _Beams, scores: tf.Tensor, row_of: tf.Tensor):
        """Score update and top-k: the ``2 * beam`` best extensions ``(active, 2 * beam)``
        (total log-probs, parent beam and token) from the live beams' ``scores``
        ``(live, vocab)``. Twice the beam always leaves ``beam`` that do not end (at most
        ``beam`` are EOS). A beam's log-probabilities are its ``scores`` minus its
        log-normaliser: the shift is added to the beam's total, not to every entry of the
        vocabulary. Sentences at their length limit may only end (``force_end``)."""
        beam = self.beam
        vocab = scores.shape[-1] or tf.shape(scores)[-1]  # static when known
        top_scores, top_index, _, base = top_extensions_at_slots(
            scores, s.slots, row_of, s.alive_log_probs, 2 * beam, normalize=True
        )
        parent, token = top_index // vocab, top_index % vocab
        eos_scores = to_slots(scores[:, self.eos_id], s.slots, tf.size(base), NEG_INF)
        eos_totals = base + tf.reshape(eos_scores, tf.shape(base))
        forced = s.t >= s.lengths
        return force_end(top_scores, parent, token, eos_totals, forced, self.eos_id, self.pad_id)

    def _result(self, s: _Beams) -> SearchResult:
        # a slot that never received a hypothesis (tiny vocabularies) is empty
        found = (s.fin_scores > NEG_INF / 2)[:, :, None]
        fin_seq = tf.where(found, s.fin_seq, self.pad_id)
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(fin_seq, self.pad_id), tf.int32), -1)
        length = tf.maximum(tf.reduce_max(lengths), 1)
        attention = s.fin_attn[:, :, :length] if self.collect else s.fin_attn
        return SearchResult(fin_seq[:, :, :length], s.fin_scores, s.fin_log_probs, attention)
