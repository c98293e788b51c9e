"""The model's inference and the search for a few sentences in NumPy.

A small request is answered without the compiled search graph: before it exists, or before
TensorFlow is even imported (``nmt.weights.from_h5``). Run eagerly, TensorFlow pays a fixed
cost per operation and a beam search of one sentence runs thousands of them; NumPy runs the
same arithmetic in milliseconds. ``NumpySeq2Seq`` mirrors ``Seq2Seq.encode`` /
``decode_step`` for one sentence over the model's ``InferenceWeights``, ``numpy_search``
mirrors ``nmt.search`` (greedy, and beam search with GNMT length normalisation, its stopping
rules and pruning) for a 1-best list; tests compare the two on trained and random models.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nmt.decoding import NEG_INF, SearchResult, SearchSettings
from nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt.weights import InferenceWeights, LSTMWeights

# A request this small (sentences, source pieces; 1-best, no attention) is answered in NumPy
# rather than waiting for TensorFlow to import or to compile its search (nmt.executor,
# translate.py): those take seconds, the NumPy answer milliseconds.
SMALL_REQUEST_LINES = 16
SMALL_REQUEST_PIECES = 256


class Found(NamedTuple):
    """One sentence's best hypothesis: target ids without EOS, sum of log-probabilities and
    normalised score (greedy: the log-probability, as ``nmt.search.greedy_search``)."""

    tokens: list[int]
    log_prob: float
    score: float


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _lstm(x, h, c, weights: LSTMWeights):
    """One LSTM step (Keras' gate order i, f, c, o): ``x`` ``(rows, in)``, ``h``/``c``
    ``(rows, units)`` -> new ``h``, ``c``."""
    z = x @ weights.kernel + h @ weights.recurrent + weights.bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    c = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_c)
    return _sigmoid(z_o) * np.tanh(c), c


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class NumpySeq2Seq:
    """A ``Seq2Seq``'s encoder and decoding step over its ``InferenceWeights``."""

    def __init__(self, weights: InferenceWeights):
        self.weights = weights
        self.src_embeddings = weights.src_embeddings
        self.tgt_embeddings = weights.tgt_embeddings
        self.encoder_layers = weights.encoder
        self.decoder_layers = weights.decoder
        self.bridge_index = weights.bridge_index
        self.attention = weights.attention != "none"
        self.w_a, self.w_c, self.bridge = weights.w_a, weights.w_c, weights.bridge
        self.output = (weights.output_kernel, weights.output_bias)

    def encode(self, ids: list[int]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        """Source ids ``(src_len,)`` -> memory ``(src_len, hidden_dim)`` and the decoder's
        initial ``[h, c]`` per decoder layer, each ``(1, hidden_dim)``."""
        x = self.src_embeddings[ids]
        finals = []
        for cells in self.encoder_layers:
            outputs, last = [], []
            for direction, weights in enumerate(cells):
                seq = x if direction == 0 else x[::-1]
                units = weights.recurrent.shape[0]
                h = c = np.zeros((1, units), np.float32)
                steps = []
                for row in seq:
                    h, c = _lstm(row[None], h, c, weights)
                    steps.append(h[0])
                out = np.stack(steps)
                outputs.append(out if direction == 0 else out[::-1])
                last.append((h, c))
            x = np.concatenate(outputs, axis=-1)
            finals.append([np.concatenate([h for h, _ in last], -1),
                           np.concatenate([c for _, c in last], -1)])  # fmt: skip
        return x, [[s.copy() for s in finals[i]] for i in self.bridge_index]

    def step(self, tokens: np.ndarray, states: list, memory: np.ndarray):
        """``tokens`` ``(rows,)`` of one sentence's beams -> logits ``(rows, vocabulary)``
        and the new states."""
        x = self.tgt_embeddings[tokens]
        new_states = []
        for (h, c), weights in zip(states, self.decoder_layers):
            h, c = _lstm(x, h, c, weights)
            new_states.append([h, c])
            x = h
        if self.attention:
            query = x if self.w_a is None else x @ self.w_a.T
            scores = query @ memory.T  # (rows, src_len)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            out = np.tanh(np.concatenate([weights @ memory, x], -1) @ self.w_c)
        else:
            out = np.tanh(x @ self.bridge[0] + self.bridge[1])
        kernel, bias = self.output
        return out @ kernel + bias, new_states


def gnmt_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty (as ``nmt.search.gnmt_penalty``) for a length counting EOS."""
    return ((5.0 + length) / 6.0) ** alpha


def numpy_search(
    model: NumpySeq2Seq,
    ids: list[int],
    max_length: int,
    bos_id: int,
    eos_id: int,
    beam_size: int,
    alpha: float,
    prune: float = 0.0,
    exact: bool = False,
) -> Found:
    """The 1-best translation of ``ids`` as ``nmt.search`` finds it: greedy for
    ``beam_size=1``, else beam search (see ``nmt.search.beam_search``)."""
    memory, states = model.encode(ids)
    if beam_size == 1:
        return _greedy(model, memory, states, max_length, bos_id, eos_id)
    alive_tokens: list[list[int]] = [[]]
    alive_scores = np.zeros(1, np.float32)
    last = np.array([bos_id])
    best: Found | None = None
    best_score = NEG_INF
    for t in range(max_length + 1):
        logits, states = model.step(last, states, memory)
        log_probs = _log_softmax(logits)
        if t >= max_length:  # only EOS may follow
            ends = alive_scores + log_probs[:, eos_id]
            candidates = [(float(ends[j]), j, eos_id) for j in range(len(ends))]
        else:
            total = (alive_scores[:, None] + log_probs).ravel()
            k = min(2 * beam_size, total.size)
            top = np.argpartition(-total, k - 1)[:k]
            top = top[np.lexsort((top, -total[top]))]  # by score, lower index first on ties
            vocab = log_probs.shape[1]
            candidates = [(float(total[i]), int(i // vocab), int(i % vocab)) for i in top]
        parents, tokens, scores = [], [], []
        for score, parent, token in candidates:
            if token == eos_id:
                if score > NEG_INF / 2 and score / gnmt_penalty(t + 1, alpha) > best_score:
                    best_score = score / gnmt_penalty(t + 1, alpha)
                    best = Found(alive_tokens[parent], score, best_score)
            elif len(tokens) < beam_size:
                parents.append(parent)
                tokens.append(token)
                scores.append(score)
        if t >= max_length or not scores:
            break
        keep = [i for i, s in enumerate(scores) if not prune or s >= scores[0] - prune]
        parents = [parents[i] for i in keep]
        alive_scores = np.array([scores[i] for i in keep], np.float32)
        alive_tokens = [alive_tokens[parents[n]] + [tokens[i]] for n, i in enumerate(keep)]
        last = np.array([tokens[i] for i in keep])
        states = [[h[parents], c[parents]] for h, c in states]
        bound = float(alive_scores[0]) / gnmt_penalty(t + 2, alpha)
        if exact:
            bound = max(bound, float(alive_scores[0]) / gnmt_penalty(max_length + 1, alpha))
        if best_score >= bound:
            break
    return best or Found([], NEG_INF, NEG_INF)


def _greedy(model, memory, states, max_length, bos_id, eos_id) -> Found:
    tokens: list[int] = []
    total = 0.0
    last = np.array([bos_id])
    for t in range(max_length + 1):
        logits, states = model.step(last, states, memory)
        log_probs = _log_softmax(logits)[0]
        token = eos_id if t >= max_length else int(np.argmax(log_probs))
        total += float(log_probs[token])
        if token == eos_id:
            break
        tokens.append(token)
        last = np.array([token])
    return Found(tokens, total, total)


def numpy_batch_search(
    model: NumpySeq2Seq, src: np.ndarray, settings: SearchSettings
) -> SearchResult:
    """The 1-best search without attention of ``src`` ``(batch, src_len)`` (right-padded), one
    sentence at a time, with the length limit and scores of the TensorFlow search; NumPy
    arrays shaped as its ``SearchResult``."""
    found = []
    for row in np.asarray(src):
        ids = row[row != PAD_ID].tolist()
        # as nmt.executor.max_output_lengths computes it, in float32
        limit = np.ceil(np.float32(settings.max_length_a) * np.float32(len(ids)))
        found.append(
            numpy_search(
                model,
                ids,
                int(limit) + settings.max_length_b,
                BOS_ID,
                EOS_ID,
                settings.beam_size,
                settings.length_penalty,
                settings.beam_prune,
                settings.stopping == "exact",
            )
        )
    width = max(len(f.tokens) for f in found) + 1
    tokens = np.full((len(found), 1, width), PAD_ID, np.int32)
    for i, f in enumerate(found):
        tokens[i, 0, : len(f.tokens) + 1] = [*f.tokens, EOS_ID]
    scores = np.array([[f.score] for f in found], np.float32)
    log_probs = np.array([[f.log_prob] for f in found], np.float32)
    return SearchResult(tokens, scores, log_probs, np.zeros([0], np.float32))


class NumpyExecutor:
    """The executor seam (``nmt.executor.SearchExecutor.searcher``) in NumPy alone, for a
    process that has not imported TensorFlow: 1-best searches without attention. A request
    that needs more is refused with ``NeedsTensorFlow``; the caller loads the full model."""

    packed = True  # the batch budget counts real pieces: NumPy never computes padding

    def __init__(self, weights: InferenceWeights):
        self.model = NumpySeq2Seq(weights)
        self.attention = weights.attention
        self.vocabulary_size = int(weights.output_bias.shape[0])

    def searcher(self, settings: SearchSettings, lengths: np.ndarray):
        if settings.n_best > 1 or settings.with_attention:
            raise NeedsTensorFlow("n-best lists and attention need the TensorFlow search")
        return lambda src: numpy_batch_search(self.model, np.asarray(src), settings)

    def compile(self, settings: SearchSettings) -> None:
        """Nothing to trace."""


class NeedsTensorFlow(RuntimeError):
    """A request the NumPy executor does not serve."""
