"""The model's inference and the search for a few sentences in NumPy.

A small first request is answered while the compiled search graph does not exist yet. Run
eagerly, TensorFlow costs 0.05-0.4 ms per operation on a small CPU, and a beam search of one
sentence runs some 2,000 of them (0.7-1 s); NumPy runs the same arithmetic in a few
milliseconds. ``NumpySeq2Seq`` mirrors ``Seq2Seq.encode`` / ``decode_step`` for one
sentence, ``numpy_search`` mirrors ``nmt.search`` (greedy, and beam search with GNMT length
normalisation, its stopping rules and pruning) for a 1-best list; tests compare the two on
trained and random models.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nmt.packed import encoder_cells
from nmt.search import NEG_INF


class Found(NamedTuple):
    """One sentence's best hypothesis: target ids without EOS, sum of log-probabilities and
    normalised score (greedy: the log-probability, as ``nmt.search.greedy_search``)."""

    tokens: list[int]
    log_prob: float
    score: float


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _lstm(x, h, c, kernel, recurrent, bias):
    """One LSTM step (Keras' gate order i, f, c, o): ``x`` ``(rows, in)``, ``h``/``c``
    ``(rows, units)`` -> new ``h``, ``c``."""
    z_i, z_f, z_c, z_o = np.split(x @ kernel + h @ recurrent + bias, 4, axis=-1)
    c = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_c)
    return _sigmoid(z_o) * np.tanh(c), c


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _cell_weights(cell) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.asarray(w, np.float32) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))


class NumpySeq2Seq:
    """A ``Seq2Seq``'s weights as float32 arrays, with its encoder and decoding step."""

    def __init__(self, model):
        encoder, decoder = model.encoder, model.decoder
        self.src_embeddings = np.asarray(model.src_embedding.embeddings, np.float32)
        self.tgt_embeddings = np.asarray(model.tgt_embedding.embeddings, np.float32)
        self.encoder_layers = []  # per layer: [forward cell weights, (backward cell weights)]
        for rnn in encoder.rnns:
            cells = encoder_cells(rnn, encoder.bidirectional)
            self.encoder_layers.append([_cell_weights(cell) for cell in cells])
        self.decoder_layers = [_cell_weights(rnn.cell) for rnn in decoder.rnns]
        # which encoder layer's final states start each decoder layer
        self.bridge_index = model._bridge_states(list(range(model.encoder_layers)))
        attention = decoder.attention
        self.attention = attention is not None
        if attention is not None:
            self.w_a = (
                None if attention.w_a is None else np.asarray(attention.w_a.kernel, np.float32)
            )
            self.w_c = np.asarray(attention.w_c.kernel, np.float32)
        else:
            self.bridge = (
                np.asarray(decoder.bridge.kernel, np.float32),
                np.asarray(decoder.bridge.bias, np.float32),
            )
        if model.tie_embeddings:
            self.output = (self.tgt_embeddings.T.copy(), np.asarray(model.output_bias, np.float32))
        else:
            projection = model.output_projection
            self.output = (
                np.asarray(projection.kernel, np.float32),
                np.asarray(projection.bias, np.float32),
            )

    def encode(self, ids: list[int]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        """Source ids ``(src_len,)`` -> memory ``(src_len, hidden_dim)`` and the decoder's
        initial ``[h, c]`` per decoder layer, each ``(1, hidden_dim)``."""
        x = self.src_embeddings[ids]
        finals = []
        for cells in self.encoder_layers:
            outputs, last = [], []
            for direction, weights in enumerate(cells):
                seq = x if direction == 0 else x[::-1]
                units = weights[1].shape[0]
                h = c = np.zeros((1, units), np.float32)
                steps = []
                for row in seq:
                    h, c = _lstm(row[None], h, c, *weights)
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
            h, c = _lstm(x, h, c, *weights)
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
