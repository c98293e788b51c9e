"""Encoder, decoder and attention layers. Every LSTM keeps the cuDNN rule (see docs/DESIGN.md)."""

from __future__ import annotations

import keras
from keras import ops

from nmt.cpu_lstm import run_lstm


def cudnn_lstm(units: int, name: str, return_sequences: bool = True) -> keras.layers.LSTM:
    """An LSTM that stays eligible for the cuDNN kernel (no LSTM-internal dropout)."""
    return keras.layers.LSTM(
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        dropout=0.0,
        recurrent_dropout=0.0,
        unroll=False,
        return_sequences=return_sequences,
        return_state=True,
        name=name,
    )


@keras.saving.register_keras_serializable(package="nmt")
class Encoder(keras.layers.Layer):
    """Stacked (bi)LSTM encoder.

    Input ``(batch, src_len, embedding_dim)`` with a ``(batch, src_len)`` mask. Returns the outputs
    ``(batch, src_len, hidden_dim)`` and, per layer, its final ``[h, c]`` of shape
    ``(batch, hidden_dim)`` (forward and backward halves concatenated when bidirectional).
    """

    def __init__(
        self, hidden_dim: int, num_layers: int, bidirectional: bool, dropout: float, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        units = hidden_dim // 2 if bidirectional else hidden_dim
        self.rnns = []
        for i in range(num_layers):
            rnn = cudnn_lstm(units, name=f"lstm_{i}")
            if bidirectional:
                rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", name=f"bilstm_{i}")
            self.rnns.append(rnn)
        self.drop = keras.layers.Dropout(dropout)
        self.supports_masking = True
        self.cpu_lstm = False  # Seq2Seq.use_cpu_lstm

    def build(self, input_shape):
        shape = tuple(input_shape)
        for rnn in self.rnns:
            rnn.build(shape)
            shape = shape[:2] + (self.hidden_dim,)
        self.built = True

    def _run(self, rnn, x, mask, training):
        """``rnn(x, mask=mask)``'s outputs, through ``nmt.cpu_lstm`` when training on a CPU."""
        if not (training and self.cpu_lstm):
            return rnn(x, mask=mask, training=training)
        if not self.bidirectional:
            return run_lstm(rnn, x, mask)
        forward = run_lstm(rnn.forward_layer, x, mask)
        backward = run_lstm(rnn.backward_layer, x, mask)
        return (ops.concatenate([forward[0], backward[0]], -1),) + forward[1:] + backward[1:]

    def call(self, inputs, mask=None, training=None):
        x = inputs
        states = []
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                x = self.drop(x, training=training)
            result = self._run(rnn, x, mask, training)
            x = result[0]
            if self.bidirectional:
                _, h_f, c_f, h_b, c_b = result
                states.append([ops.concatenate([h_f, h_b], -1), ops.concatenate([c_f, c_b], -1)])
            else:
                states.append([result[1], result[2]])
        return x, states

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
        )
        return config


@keras.saving.register_keras_serializable(package="nmt")
class LuongAttention(keras.layers.Layer):
    """Luong global attention after the decoder LSTM: ``h~ = tanh(W_c [c; h])``.

    ``score`` is ``dot`` (``h . s``) or ``general`` (``h W_a s``). Inputs: decoder outputs
    ``(batch, tgt_len, hidden_dim)``, encoder outputs ``(batch, src_len, hidden_dim)`` and a source
    mask ``(batch, src_len)``. Returns the attentional vectors ``(batch, tgt_len, output_dim)`` and
    the weights ``(batch, tgt_len, src_len)``.
    """

    def __init__(self, hidden_dim: int, output_dim: int, score: str = "dot", **kwargs):
        super().__init__(**kwargs)
        if score not in ("dot", "general"):
            raise ValueError(f"attention score must be 'dot' or 'general', got {score!r}")
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.score = score
        self.w_a = (
            keras.layers.Dense(hidden_dim, use_bias=False, name="w_a")
            if score == "general"
            else None
        )
        self.w_c = keras.layers.Dense(output_dim, activation="tanh", use_bias=False, name="w_c")
        self.supports_masking = True

    def build(self, query_shape, memory_shape=None, memory_mask_shape=None):
        if self.w_a is not None:
            self.w_a.build((None, None, self.hidden_dim))
        self.w_c.build((None, None, 2 * self.hidden_dim))
        self.built = True

    def compute_mask(self, *args, **kwargs):
        return None

    def call(self, query, memory, memory_mask):
        context, weights = self.attend(query, memory, memory_mask)
        return self.combine(context, query), weights

    def attend(self, query, memory, memory_mask):
        """``query`` ``(batch, tgt_len, hidden_dim)`` -> the context ``(batch, tgt_len,
        hidden_dim)`` and weights ``(batch, tgt_len, src_len)``."""
        if self.w_a is not None:
            # h . (W_a s) = (h W_a^T) . s: one product per query, not per source position (a
            # decoding step has one query per row against the whole memory of its sentence)
            kernel = ops.cast(self.w_a.kernel, query.dtype)
            query_keys = ops.matmul(query, ops.transpose(kernel))
        else:
            query_keys = query
        scores = ops.matmul(query_keys, ops.transpose(memory, (0, 2, 1)))  # (batch, tgt, src)
        mask = ops.expand_dims(ops.cast(memory_mask, "bool"), 1)
        big = 1e9 if keras.backend.standardize_dtype(scores.dtype) == "float32" else 3e4
        scores = ops.where(mask, scores, -big)
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, memory), weights

    def combine(self, context, query):
        """The attentional vector ``tanh(W_c [c; h])`` ``(..., output_dim)``."""
        return self.w_c(ops.concatenate([context, query], axis=-1))

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, output_dim=self.output_dim, score=self.score)
        return config


@keras.saving.register_keras_serializable(package="nmt")
class Decoder(keras.layers.Layer):
    """Stacked LSTM decoder with optional Luong attention on top.

    Training (teacher forcing) runs each LSTM once over the whole target, so cuDNN applies:
    inputs ``(batch, tgt_len, embedding_dim)`` -> ``(batch, tgt_len, output_dim)``.
    ``step`` runs the same weights one position at a time for search.
    """

    def __init__(
        self,
        hidden_dim: int,
        num_layers: int,
        attention: str,
        output_dim: int,
        dropout: float,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention not in ("none", "dot", "general"):
            raise ValueError(f"attention must be none, dot or general, got {attention!r}")
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.attention_type = attention
        self.output_dim = output_dim
        self.dropout = dropout
        self.rnns = [cudnn_lstm(hidden_dim, name=f"lstm_{i}") for i in range(num_layers)]
        self.drop = keras.layers.Dropout(dropout)
        if attention == "none":
            self.attention = None
            self.bridge = keras.layers.Dense(output_dim, activation="tanh", name="bridge")
        else:
            self.attention = LuongAttention(
                hidden_dim, output_dim, score=attention, name="attention"
            )
            self.bridge = None
        self.supports_masking = True
        self.cpu_lstm = False  # Seq2Seq.use_cpu_lstm

    def build(self, input_shape):
        shape = tuple(input_shape)
        for rnn in self.rnns:
            rnn.build(shape)
            shape = shape[:2] + (self.hidden_dim,)
        if self.attention is not None:
            self.attention.build(shape)
        else:
            self.bridge.build(shape)
        self.built = True

    def compute_mask(self, *args, **kwargs):
        return None

    def _output(self, h, memory, memory_mask):
        if self.attention is None:
            return self.bridge(h), None
        return self.attention(h, memory, memory_mask)

    def call(self, inputs, initial_states, memory, memory_mask, mask=None, training=None):
        x = inputs
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                x = self.drop(x, training=training)
            if training and self.cpu_lstm:
                x = run_lstm(rnn, x, mask, initial_states[i])[0]
            else:
                x = rnn(x, initial_state=initial_states[i], mask=mask, training=training)[0]
        out, weights = self._output(x, memory, memory_mask)
        # dropout on the attentional vector, not on the attention's query: a dropped query
        # blurs the attention weights, and the model learned more slowly per update with it
        return self.drop(out, training=training), weights

    def input_table(self, embeddings):
        """The first LSTM's input projection plus bias for every row of ``embeddings``
        ``(vocabulary_size, embedding_dim)`` -> ``(vocabulary_size, 4 * hidden_dim)``: with it a
        decoding step gathers a row instead of multiplying (a third of the step's LSTM work)."""
        cell = self.rnns[0].cell
        return ops.add(ops.matmul(embeddings, cell.kernel), cell.bias)

    def step(
        self, inputs, states, memory, memory_mask, projected: bool = False, slots=None, beams=1
    ):
        """One decoding step.

        ``inputs`` ``(rows, embedding_dim)``, or with ``projected`` the rows of ``input_table``
        ``(rows, 4 * hidden_dim)``; ``states`` a list of ``[h, c]`` per layer, each
        ``(rows, hidden_dim)``; ``memory`` ``(sentences, src_len, hidden_dim)`` and its mask
        ``(sentences, src_len)`` (not copied per beam). Without ``slots``, ``rows`` is
        ``sentences * beams`` with the beams of a sentence adjacent; with ``slots`` ``(rows,)``
        int32, row ``i`` is beam ``slots[i] % beams`` of sentence ``slots[i] // beams`` and
        other beams have no row (``nmt.search.Rows``). Returns ``(rows, output_dim)``, the new
        states and attention weights ``(rows, src_len)`` (None without attention).
        """
        x = inputs
        new_states = []
        for i, (rnn, (h, c)) in enumerate(zip(self.rnns, states)):
            if i == 0 and projected:
                x, (h, c) = _lstm_step_projected(rnn.cell, x, h, c)
            else:
                x, (h, c) = rnn.cell(x, [h, c], training=False)
            new_states.append([h, c])
        if self.attention is None:
            return self.bridge(x), new_states, None
        sentences = ops.shape(memory)[0]
        query = x
        if slots is not None:  # one row per beam slot for the attention's batched products
            query = ops.scatter(slots[:, None], x, (sentences * beams, self.hidden_dim))
        query = ops.reshape(query, (sentences, -1, self.hidden_dim))  # (sentences, beams, h)
        context, weights = self.attention.attend(query, memory, memory_mask)
        context = ops.reshape(context, (-1, self.hidden_dim))
        weights = ops.reshape(weights, (ops.shape(context)[0], -1))
        if slots is not None:
            context, weights = ops.take(context, slots, axis=0), ops.take(weights, slots, axis=0)
        return self.attention.combine(context, x), new_states, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            attention=self.attention_type,
            output_dim=self.output_dim,
            dropout=self.dropout,
        )
        return config


def lstm_gates(z, c):
    """The LSTM update from the gate pre-activations ``z`` = ``x @ kernel + h @ recurrent +
    bias`` ``(..., 4 * units)`` and the cell state ``c`` ``(..., units)``: gates i, f, c, o
    with sigmoid / tanh, as ``LSTMCell`` and ``cudnn_lstm`` fix them. Returns new ``h``, ``c``.
    The TensorFlow paths that step LSTMs themselves (the decoder step, ``nmt.packed``) use
    this; ``nmt.numpy_decode`` writes it once in NumPy."""
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    c = ops.sigmoid(z_f) * c + ops.sigmoid(z_i) * ops.tanh(z_c)
    return ops.sigmoid(z_o) * ops.tanh(c), c


def _lstm_step_projected(cell: keras.layers.LSTMCell, projected, h, c):
    """``cell``'s step from ``projected`` = ``x @ kernel + bias`` ``(rows, 4 * units)``."""
    z = ops.add(projected, ops.matmul(h, ops.cast(cell.recurrent_kernel, h.dtype)))
    h, c = lstm_gates(z, c)
    return h, (h, c)
