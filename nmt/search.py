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


class Rows(NamedTuple):
    """Where the rows of a beam step sit: row ``i`` is beam ``slots[i] % beams`` of sentence
    ``slots[i] // beams`` (its context row). ``slots`` ``(rows,)`` int32, increasing; a step
    function that needs one row per slot scatters into ``(sentences * beams, ...)``."""

    slots: tf.Tensor
    beams: int


StepFn = Callable[[tf.Tensor, Any, Any, "Rows | None"], tuple[tf.Tensor, Any, Any]]


class SearchResult(NamedTuple):
    """``tokens`` ``(batch, n_best, length)`` padded with 0 after EOS; ``scores``
    ``(batch, n_best)`` (length-normalised for beam search); ``log_probs`` ``(batch, n_best)``;
    ``attention`` ``(batch, n_best, length, src_len)`` or an empty tensor."""

    tokens: tf.Tensor
    scores: tf.Tensor
    log_probs: tf.Tensor
    attention: tf.Tensor


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


STOPPING = ("heuristic", "exact")


def _keep(mask: tf.Tensor, nest: Any) -> Any:
    """Every ``(batch, ...)`` tensor of a nest at the rows where ``mask`` ``(batch,)`` is true
    (one index computation, then one gather per tensor: cheaper to trace than boolean_mask)."""
    index = tf.reshape(tf.where(mask), [-1])
    return tf.nest.map_structure(lambda x: tf.gather(x, index), nest)


NEG_INF = -1e9  # a finite "minus infinity": arithmetic on it never gives NaN


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


def _to_slots(values: tf.Tensor, slots: tf.Tensor, count, fill) -> tf.Tensor:
    """Rows ``values`` ``(live, ...)`` placed at ``slots`` of a ``(count, ...)`` tensor whose
    other rows are ``fill``."""
    shape = tf.concat([[count], tf.shape(values)[1:]], 0)
    return tf.tensor_scatter_nd_update(tf.fill(shape, fill), slots[:, None], values)


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
        """One search step from the step function's outputs for ``s``'s live beams
        (``(live, ...)``): extend, collect finished hypotheses, prune, drop done sentences."""
        beam, t = self.beam, s.t
        active = tf.shape(s.rows)[0]
        slot_count = active * beam
        # the row of each slot (0 for a slot without one: its log-prob is NEG_INF)
        row_of = _to_slots(tf.range(tf.size(s.slots)), s.slots, slot_count, 0)
        top_scores, parent, token = self._candidates(s, scores, row_of)
        is_eos = tf.equal(token, self.eos_id)
        valid = top_scores > NEG_INF / 2

        # alive: the best candidates that did not end, less those pruned
        alive_scores, pick = tf.math.top_k(tf.where(is_eos, NEG_INF, top_scores), k=beam)
        alive_scores = tf.maximum(alive_scores, NEG_INF)
        if self.prune > 0:
            pruned = alive_scores < alive_scores[:, :1] - self.prune
            alive_scores = tf.where(pruned, NEG_INF, alive_scores)
        alive_parent, alive_token = _gather(parent, pick), _gather(token, pick)
        live = tf.reshape(alive_scores > NEG_INF / 2, [-1])
        slots = tf.cast(tf.reshape(tf.where(live), [-1]), tf.int32)  # the next step's rows
        parent_slot = tf.reshape(alive_parent + tf.range(active)[:, None] * beam, [-1])
        states = tf.nest.map_structure(
            lambda x: tf.gather(x, tf.gather(row_of, tf.gather(parent_slot, slots))), states
        )
        tokens = tf.gather(tf.reshape(alive_token, [-1]), slots)
        alive_seq = _write(_gather(s.alive_seq, alive_parent), t, alive_token)
        alive_attn = s.alive_attn
        if self.collect:
            if weights is None:  # a model without attention: report zeros
                weights = tf.zeros([tf.size(s.slots), self.src_len], tf.float32)
            weights = _to_slots(tf.cast(weights, tf.float32), s.slots, slot_count, 0.0)
            weights = tf.reshape(weights, [active, beam, -1])
            alive_attn = _write(
                _gather(s.alive_attn, alive_parent), t, _gather(weights, alive_parent)
            )

        # finished: merge the candidates that ended with the kept ones (of the active rows)
        rows = s.rows[:, None]
        ended = tf.where(
            tf.logical_and(is_eos, valid), top_scores / gnmt_penalty(t + 1, self.alpha), NEG_INF
        )
        kept = tf.gather(s.fin_scores, s.rows)
        fin_scores, pick = tf.math.top_k(tf.concat([kept, ended], 1), k=self.n_best)
        ended_log_probs = tf.where(ended > NEG_INF / 2, top_scores, NEG_INF)
        fin_log_probs = _gather(
            tf.concat([tf.gather(s.fin_log_probs, s.rows), ended_log_probs], 1), pick
        )
        ended_seq = _write(_gather(s.alive_seq, parent), t, token)
        fin_seq = _gather(tf.concat([tf.gather(s.fin_seq, s.rows), ended_seq], 1), pick)
        fin_attn = s.fin_attn
        if self.collect:
            ended_attn = _write(_gather(s.alive_attn, parent), t, _gather(weights, parent))
            fin_attn = _gather(tf.concat([tf.gather(s.fin_attn, s.rows), ended_attn], 1), pick)
            fin_attn = tf.tensor_scatter_nd_update(s.fin_attn, rows, fin_attn)
        done = self._cannot_improve(t, alive_scores[:, 0], fin_scores, s.lengths)

        new = _Beams(
            t + 1, s.rows, s.lengths, slots, tokens, states, s.context, alive_scores, alive_seq,
            alive_attn,
            tf.tensor_scatter_nd_update(s.fin_scores, rows, fin_scores),
            tf.tensor_scatter_nd_update(s.fin_log_probs, rows, fin_log_probs),
            tf.tensor_scatter_nd_update(s.fin_seq, rows, fin_seq),
            fin_attn,
        )  # fmt: skip
        return tf.cond(tf.reduce_any(done), lambda: self._drop(new, done), lambda: new)

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
        """The ``2 * beam`` best extensions ``(active, 2 * beam)``: total log-probs, parent beam
        and token, from the live beams' ``scores`` ``(live, vocab)``. Twice the beam always
        leaves ``beam`` that do not end (at most ``beam`` are EOS). At its length limit a
        sentence may only end: its candidates are its beams + EOS (patched in after the top-k,
        which is cheaper than masking the whole vocabulary). A beam's log-probabilities are its
        ``scores`` minus its log-normaliser: the shift is added to the beam's total, not to
        every entry of the vocabulary."""
        beam = self.beam
        vocab = scores.shape[-1] or tf.shape(scores)[-1]  # static when known
        top_scores, top_index, _, base = _top_extensions(
            scores, s.slots, row_of, s.alive_log_probs, 2 * beam, normalize=True
        )
        parent, token = top_index // vocab, top_index % vocab
        forced = (s.t >= s.lengths)[:, None]
        ending = tf.reshape(
            _to_slots(scores[:, self.eos_id], s.slots, tf.size(base), NEG_INF), tf.shape(base)
        )
        ending = tf.concat([base + ending, tf.fill(tf.shape(ending), NEG_INF)], 1)
        slots = tf.range(2 * beam)[None]
        top_scores = tf.where(forced, ending, top_scores)
        parent = tf.where(forced, slots % beam, parent)
        token = tf.where(forced, tf.where(slots < beam, self.eos_id, self.pad_id), token)
        return top_scores, parent, token

    def _cannot_improve(self, t, best_alive, fin_scores, lengths) -> tf.Tensor:
        """``(active,)``: no alive hypothesis can beat the ``n_best``-th finished one. Exact:
        the best normalised score an alive one could still reach is at the longest length when
        alpha >= 0 (the shortest when alpha < 0, an odd but legal setting). Heuristic: its score
        if it ended at the next step."""
        bound = best_alive / gnmt_penalty(t + 2, self.alpha)
        if self.exact:
            longest = best_alive / gnmt_penalty(lengths + 1, self.alpha)
            bound = tf.maximum(longest, bound)
        return tf.logical_or(
            tf.logical_or(fin_scores[:, -1] >= bound, best_alive <= NEG_INF / 2),
            t >= lengths,
        )

    def _result(self, s: _Beams) -> SearchResult:
        # a slot that never received a hypothesis (tiny vocabularies) is empty
        found = (s.fin_scores > NEG_INF / 2)[:, :, None]
        fin_seq = tf.where(found, s.fin_seq, self.pad_id)
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(fin_seq, self.pad_id), tf.int32), -1)
        length = tf.maximum(tf.reduce_max(lengths), 1)
        attention = s.fin_attn[:, :, :length] if self.collect else s.fin_attn
        return SearchResult(fin_seq[:, :, :length], s.fin_scores, s.fin_log_probs, attention)


def top_extensions(log_probs: tf.Tensor, base: tf.Tensor, k: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The ``k`` best of ``base[:, :, None] + log_probs`` over beams and tokens together.

    ``log_probs`` ``(batch, beam, vocab)``, ``base`` ``(batch, beam)``. Returns the scores
    ``(batch, k)`` and flat indices ``beam_index * vocab + token`` ``(batch, k)``: exactly
    ``tf.math.top_k`` of the sum flattened to ``(batch, beam * vocab)`` (ties: lower index first).

    TensorFlow's CPU ``top_k`` is a scalar pass of some 10 ns per entry, which at beam 5 costs a
    third of a decoder step. Here each beam's row is cut into groups of ``size`` tokens: one
    vectorised max per group, the ``k`` best groups over all beams (each of the ``k`` best
    entries lies in one of them), then ``top_k`` over those ``k * size`` entries only. The sum
    is never formed over the whole vocabulary: a beam's ``base`` shifts its groups' maxima alike.
    """
    return _dense_top_extensions(log_probs, base, k, normalize=False)[:2]


def normalized_top_extensions(
    scores: tf.Tensor, base: tf.Tensor, k: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``top_extensions`` of ``log_softmax(scores)`` without forming it: also returns each
    beam's log-normaliser ``(batch, beam)`` (as ``argmax_and_normalizer``, whose argmax comes
    from the same group maxima, so the vocabulary is read once for both)."""
    top, index, normalizer, _ = _dense_top_extensions(scores, base, k, normalize=True)
    return top, index, tf.reshape(normalizer, tf.shape(base))


def _dense_top_extensions(scores: tf.Tensor, base: tf.Tensor, k: int, normalize: bool):
    """``_top_extensions`` with a row for every beam: ``scores`` ``(batch, beam, vocab)``."""
    slots = tf.range(tf.shape(scores)[0] * tf.shape(scores)[1])
    flat = tf.ensure_shape(tf.reshape(scores, [-1, tf.shape(scores)[-1]]), [None, scores.shape[-1]])
    return _top_extensions(flat, slots, slots, base, k, normalize)


def _top_extensions(
    scores: tf.Tensor,
    slots: tf.Tensor,
    row_of: tf.Tensor,
    base: tf.Tensor,
    k: int,
    normalize: bool,
):
    """The ``k`` best extensions over the beams of each sentence, from step rows that cover
    only some beams. ``scores`` ``(rows, vocab)`` at ``slots`` ``(rows,)`` of the
    ``(batch, beam)`` beams, ``row_of`` ``(batch * beam,)`` the inverse (any row for a slot
    without one), ``base`` ``(batch, beam)`` the beams' totals (``NEG_INF`` where no row).
    With ``normalize``, ``scores`` are logits and each row's log-normaliser is subtracted.
    Returns top scores and flat indices ``(batch, k)`` as ``top_extensions``, the rows'
    log-normalisers ``(rows,)`` (zeros without ``normalize``) and ``base`` less them
    ``(batch, beam)`` (``NEG_INF`` where no row)."""
    vocab = scores.shape[-1]
    beam = base.shape[1]
    count = tf.size(base)
    flat_base = tf.reshape(base, [-1])
    if vocab is None or beam is None or vocab < 32 * k:
        normalizer = tf.zeros(tf.shape(slots), scores.dtype)
        if normalize:
            normalizer = argmax_and_normalizer(scores)[1]
        row_base = tf.gather(flat_base, slots) - normalizer
        shifted = tf.reshape(_to_slots(row_base, slots, count, NEG_INF), tf.shape(base))
        total = _to_slots(row_base[:, None] + scores, slots, count, NEG_INF + NEG_INF)
        top, index = tf.math.top_k(tf.reshape(total, [tf.shape(base)[0], -1]), k=k)
        return top, index, normalizer, shifted
    size = _group_size(vocab, beam * vocab // k)
    groups = -(-vocab // size)
    x = scores
    if groups * size > vocab:  # pad with -inf: never chosen before a real entry
        x = tf.pad(x, [[0, 0], [0, groups * size - vocab]], constant_values=float("-inf"))
    x = tf.reshape(x, [-1, groups, size])
    group_maxima = tf.reduce_max(x, -1)  # (rows, groups)
    normalizer = tf.zeros(tf.shape(slots), scores.dtype)
    if normalize:  # each row's best entry from the same maxima, then its normaliser
        normalizer = _normalizer_at(scores, _argmax_in_groups(x, group_maxima))
    row_base = tf.gather(flat_base, slots) - normalizer
    shifted = tf.reshape(_to_slots(row_base, slots, count, NEG_INF), tf.shape(base))
    maxima = _to_slots(group_maxima + row_base[:, None], slots, count, float("-inf"))
    maxima = tf.reshape(maxima, [-1, beam * groups])
    chosen = tf.sort(tf.math.top_k(maxima, k=k)[1], axis=-1)  # (batch, k), in index order
    slot = tf.range(tf.shape(base)[0])[:, None] * beam + chosen // groups  # (batch, k)
    shift = tf.gather(tf.reshape(shifted, [-1]), slot)  # (batch, k)
    row_group = tf.gather(row_of, slot) * groups + chosen % groups
    candidates = tf.gather(tf.reshape(x, [-1, size]), row_group) + shift[:, :, None]
    top, position = tf.math.top_k(tf.reshape(candidates, [-1, k * size]), k=k)
    group = tf.gather(chosen, position // size, batch_dims=1)  # beam * groups + g
    index = (group // groups) * vocab + (group % groups) * size + position % size
    return top, index, normalizer, shifted


def argmax_and_normalizer(scores: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``scores`` ``(rows, vocab)`` -> the best entry of each row ``(rows,)`` int32 (the first
    of ties, as ``tf.argmax``) and ``logsumexp`` over the row ``(rows,)``, so that an entry's
    log-probability is ``scores - normalizer``.

    Cheaper on a CPU than ``log_softmax`` then ``argmax`` (9 us against 16 us per row of 8000
    entries, 480 rows, 2-core AVX2): the argmax is found group-wise (a vectorised max per group
    of entries, then the best group's entries), and the normaliser comes from a softmax at that
    entry, ``logsumexp = best_score - log(softmax[best])``: exact, since
    ``softmax[best] >= 1 / vocab`` cannot underflow.
    """
    best = _argmax_last(scores)
    return best, _normalizer_at(scores, best)


def _normalizer_at(scores: tf.Tensor, best: tf.Tensor) -> tf.Tensor:
    """``logsumexp`` over the last axis of ``scores`` ``(..., vocab)`` from the softmax at
    ``best`` ``(...)``, the index of each row's maximum: ``best_score - log(softmax[best])``."""
    batch_dims = len(best.shape)
    probs = tf.gather(tf.nn.softmax(scores), best, batch_dims=batch_dims)
    return tf.gather(scores, best, batch_dims=batch_dims) - tf.math.log(probs)


def _argmax_in_groups(grouped: tf.Tensor, maxima: tf.Tensor) -> tf.Tensor:
    """The argmax over a row cut into groups: ``grouped`` ``(..., groups, size)`` and its
    ``maxima = reduce_max(grouped, -1)`` -> the index in the row ``(...)`` int32 (the first
    of ties, as ``tf.argmax``)."""
    batch_dims = len(maxima.shape) - 1
    group = tf.argmax(maxima, -1, output_type=tf.int32)
    within = tf.argmax(tf.gather(grouped, group, batch_dims=batch_dims), -1, output_type=tf.int32)
    return group * grouped.shape[-1] + within


def _argmax_last(x: tf.Tensor) -> tf.Tensor:
    """``tf.argmax`` over the last axis of ``x`` ``(rows, vocab)`` as int32; group-wise when the
    vocabulary has a divisor near its square root (TensorFlow's CPU argmax is a scalar pass)."""
    vocab = x.shape[-1]
    size = _group_size(vocab, vocab) if vocab else 0
    if not vocab or vocab < 64 or vocab % size:
        return tf.argmax(x, axis=-1, output_type=tf.int32)
    grouped = tf.reshape(x, [-1, vocab // size, size])
    return _argmax_in_groups(grouped, tf.reduce_max(grouped, -1))


def _group_size(vocab: int, ideal_squared: int) -> int:
    """About ``sqrt(ideal_squared)`` (for ``top_extensions`` that balances the group maxima
    against the candidates; for an argmax, ``ideal_squared = vocab``): a divisor of ``vocab``
    near it if there is one (no padding copy)."""
    ideal = max(2, round(ideal_squared**0.5))
    for size in sorted(range(max(2, ideal // 2), 2 * ideal + 1), key=lambda s: abs(s - ideal)):
        if vocab % size == 0:
            return size
    return ideal
