"""The Seq2Seq model: embeddings -> LSTM encoder -> LSTM decoder (+ attention) -> logits."""

from __future__ import annotations

import keras
from keras import ops

from nmt.config import ModelConfig
from nmt.layers import Decoder, Encoder
from nmt.loss import smoothed_cross_entropy
from nmt.tokenizer import PAD_ID
from nmt.weights import bridge_index


def _embedding(vocabulary_size: int, embedding_dim: int, name: str) -> keras.layers.Embedding:
    """A masking embedding. Its std d^-0.5 keeps tied output logits at unit scale: Keras'
    default uniform(+-0.05) makes them so small that a tied model learns many times slower."""
    return keras.layers.Embedding(
        vocabulary_size,
        embedding_dim,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=embedding_dim**-0.5),
        name=name,
    )


@keras.saving.register_keras_serializable(package="nmt")
class Seq2Seq(keras.Model):
    """Encoder-decoder LSTM translation model.

    ``call({"encoder_inputs": (batch, src_len), "decoder_inputs": (batch, tgt_len)})`` returns
    float32 logits ``(batch, tgt_len, tgt_vocabulary_size)``. ``encode`` and ``decode_step`` expose
    the two halves for search.
    """

    def __init__(
        self,
        src_vocabulary_size: int,
        tgt_vocabulary_size: int,
        embedding_dim: int,
        hidden_dim: int,
        encoder_layers: int,
        decoder_layers: int,
        bidirectional: bool,
        attention: str,
        dropout: float,
        tie_embeddings: bool,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.src_vocabulary_size = src_vocabulary_size
        self.tgt_vocabulary_size = tgt_vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.bidirectional = bidirectional
        self.attention_type = attention
        self.dropout_rate = dropout
        self.tie_embeddings = tie_embeddings
        self.label_smoothing = label_smoothing

        self.src_embedding = _embedding(src_vocabulary_size, embedding_dim, "src_embedding")
        self.tgt_embedding = _embedding(tgt_vocabulary_size, embedding_dim, "tgt_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.encoder = Encoder(hidden_dim, encoder_layers, bidirectional, dropout, name="encoder")
        output_dim = embedding_dim if tie_embeddings else hidden_dim
        self.decoder = Decoder(
            hidden_dim, decoder_layers, attention, output_dim, dropout, name="decoder"
        )
        if tie_embeddings:
            self.output_projection = None
        else:
            # the dtype policy's compute dtype, as the tied product: under mixed_bfloat16 this
            # is the step's largest product, and the logits are cast to float32 for the loss
            self.output_projection = keras.layers.Dense(
                tgt_vocabulary_size, name="output_projection"
            )

    def build(self, input_shape=None):
        self.src_embedding.build((None, None))
        self.tgt_embedding.build((None, None))
        self.encoder.build((None, None, self.embedding_dim))
        self.decoder.build((None, None, self.embedding_dim))
        if self.tie_embeddings:
            self.output_bias = self.add_weight(
                shape=(self.tgt_vocabulary_size,), initializer="zeros", name="output_bias"
            )
        else:
            self.output_projection.build((None, None, self.decoder.output_dim))
        self.built = True

    def use_cpu_lstm(self, enabled: bool) -> None:
        """Run the LSTMs through ``nmt.cpu_lstm`` when training (``nmt.cpu_lstm.use_cpu_kernel``
        decides); call before the first training step traces."""
        self.encoder.cpu_lstm = self.decoder.cpu_lstm = enabled

    # --- pieces ---------------------------------------------------------------------------
    def bridge_states(self, encoder_states):
        """Decoder layer i starts from the final states of the matching top encoder layer."""
        return [encoder_states[i] for i in bridge_index(self.encoder_layers, self.decoder_layers)]

    def _logits(self, x, output_table=None):
        if self.tie_embeddings:
            if output_table is None:
                output_table = ops.transpose(self.tgt_embedding.embeddings)
            logits = ops.matmul(x, ops.cast(output_table, x.dtype))
            return ops.cast(logits, "float32") + self.output_bias
        return ops.cast(self.output_projection(x), "float32")

    def encode(self, src, training=False):
        """``src`` ``(batch, src_len)`` -> memory ``(batch, src_len, hidden_dim)``, source mask
        ``(batch, src_len)`` and the decoder's initial states (``[h, c]`` per decoder layer)."""
        src_mask = ops.not_equal(src, PAD_ID)
        x = self.embedding_dropout(self.src_embedding(src), training=training)
        memory, states = self.encoder(x, mask=src_mask, training=training)
        return memory, src_mask, self.bridge_states(states)

    def decode_tables(self, max_input_bytes: int | None = None) -> dict:
        """What ``decode_step`` would otherwise recompute from the weights at every step; pass
        it as ``tables`` while the weights stay the same. ``input``: the first decoder LSTM's
        input projection of every target token ``(tgt_vocabulary_size, 4 * hidden_dim)``,
        left out when larger than ``max_input_bytes`` (float32); ``output`` (tied embeddings):
        the output matrix laid out for the product ``(embedding_dim, tgt_vocabulary_size)``, a
        contiguous copy instead of a transpose."""
        embeddings = self.tgt_embedding.embeddings
        tables = {}
        input_bytes = self.tgt_vocabulary_size * 4 * self.hidden_dim * 4
        if max_input_bytes is None or input_bytes <= max_input_bytes:
            tables["input"] = self.decoder.input_table(embeddings)
        if self.tie_embeddings:
            tables["output"] = ops.transpose(embeddings)
        return tables

    def decode_step(
        self, tokens, states, memory, src_mask, tables=None, normalize=True, slots=None, beams=1
    ):
        """``tokens`` ``(rows,)`` -> log-probabilities ``(rows, tgt_vocabulary_size)`` (with
        ``normalize=False`` the float32 logits, which ``nmt.search`` normalises more cheaply
        itself), new states, attention weights ``(rows, src_len)`` or None. ``memory`` and
        ``src_mask`` have one row per sentence; ``rows`` is ``sentences * beams``, or with
        ``slots`` the beams those name (see ``Decoder.step``). ``tables``: ``decode_tables()``
        of the current weights, or None."""
        tables = tables or {}
        if "input" in tables:
            x = ops.take(tables["input"], tokens, axis=0)
        else:
            x = ops.take(self.tgt_embedding.embeddings, tokens, axis=0)  # no mask on one step
        out, states, weights = self.decoder.step(
            x, states, memory, src_mask, projected="input" in tables, slots=slots, beams=beams
        )
        logits = self._logits(out, tables.get("output"))
        if not normalize:
            return logits, states, weights
        return ops.log_softmax(logits, axis=-1), states, weights

    def call(self, inputs, training=False):
        src, tgt = inputs["encoder_inputs"], inputs["decoder_inputs"]
        memory, src_mask, states = self.encode(src, training=training)
        tgt_mask = ops.not_equal(tgt, PAD_ID)
        y = self.embedding_dropout(self.tgt_embedding(tgt), training=training)
        out, _ = self.decoder(y, states, memory, src_mask, mask=tgt_mask, training=training)
        return self._logits(out)

    def attention_weights(self, inputs):
        """Teacher-forced attention ``(batch, tgt_len, src_len)`` (None without attention)."""
        src, tgt = inputs["encoder_inputs"], inputs["decoder_inputs"]
        memory, src_mask, states = self.encode(src)
        y = self.tgt_embedding(tgt)
        _, weights = self.decoder(y, states, memory, src_mask, mask=ops.not_equal(tgt, PAD_ID))
        return weights

    # --- training ---------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Label-smoothed cross-entropy averaged over non-padding target tokens."""
        loss = smoothed_cross_entropy(y, y_pred, self.label_smoothing)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def get_config(self):
        return {
            "src_vocabulary_size": self.src_vocabulary_size,
            "tgt_vocabulary_size": self.tgt_vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "encoder_layers": self.encoder_layers,
            "decoder_layers": self.decoder_layers,
            "bidirectional": self.bidirectional,
            "attention": self.attention_type,
            "dropout": self.dropout_rate,
            "tie_embeddings": self.tie_embeddings,
            "label_smoothing": self.label_smoothing,
            "name": self.name,
        }


def build_model(
    config: ModelConfig,
    src_vocabulary_size: int,
    tgt_vocabulary_size: int,
    label_smoothing: float = 0.0,
    initialize: bool = True,
) -> Seq2Seq:
    """Build (and create the weights of) a Seq2Seq from a ModelConfig. ``initialize=False``
    creates every weight as zeros, for a model whose weights are loaded next: random
    initialisation (orthogonal recurrent kernels above all) is a large share of load time."""
    model = Seq2Seq(
        src_vocabulary_size=src_vocabulary_size,
        tgt_vocabulary_size=tgt_vocabulary_size,
        embedding_dim=config.embedding_dim,
        hidden_dim=config.hidden_dim,
        encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers,
        bidirectional=config.bidirectional,
        attention=config.attention,
        dropout=config.dropout,
        tie_embeddings=config.tie_embeddings,
        label_smoothing=label_smoothing,
        name="seq2seq",
    )
    if not initialize:
        _zero_initializers(model)
    model.build()
    if initialize and config.init_range is not None:
        _uniform_weights(model, config.init_range)
    return model


def _uniform_weights(model: Seq2Seq, init_range: float) -> None:
    """Redraw every weight but the embedding tables uniform in ``+-init_range`` (the global
    Keras seed decides). The embeddings keep their d^-0.5 scale: a tied output layer's logits
    are products with them, and small embeddings of a narrow model make it learn slowly."""
    tables = {id(model.src_embedding.embeddings), id(model.tgt_embedding.embeddings)}
    for weight in model.weights:
        if id(weight) not in tables:
            weight.assign(
                keras.random.uniform(weight.shape, -init_range, init_range, dtype=weight.dtype)
            )


def _zero_initializers(model: keras.Model) -> None:
    """Replace every initializer of every (nested) layer of an unbuilt model by zeros."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for name, value in list(vars(layer).items()):
            if isinstance(value, keras.initializers.Initializer):
                setattr(layer, name, keras.initializers.Zeros())
