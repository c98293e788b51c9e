"""The model's weights for inference, by name: the one view the paths that compute without the
Keras layers use (``nmt.numpy_decode``).

``from_model`` reads it from a built ``Seq2Seq``; ``from_h5`` reads it straight from a Keras
``.weights.h5`` file with h5py, without TensorFlow, so that a small request can be answered
before TensorFlow is even imported. Both give float32 arrays (shipped weights may be stored
as float16; Keras casts them the same way when it loads them).

Keras 3 stores a model's weights by the attribute path of each layer: the list items of
``encoder.rnns`` and ``decoder.rnns`` under class-name keys (``lstm``, ``lstm_1``, ... or
``bidirectional``, ``bidirectional_1``, ... in creation order), the model's own layers under
``layers/`` (``embedding`` is the source embedding, created first, ``embedding_1`` the target
one, ``dense`` an untied output projection) and its own variables (the tied output's bias)
under ``vars/``. ``tests/test_weights.py`` checks this reading against ``from_model`` for every
model shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nmt.config import ModelConfig


@dataclass(frozen=True)
class LSTMWeights:
    """One LSTM cell (Keras' gate order i, f, c, o): ``kernel`` ``(input_dim, 4 * units)``,
    ``recurrent`` ``(units, 4 * units)``, ``bias`` ``(4 * units,)``."""

    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class InferenceWeights:
    """Everything inference computes with. ``encoder``: per layer its forward cell (and its
    backward one when bidirectional); ``bridge_index``: which encoder layer's final states
    start each decoder layer. With attention: ``w_a`` ``(hidden, hidden)`` (Luong general; None
    for dot) and ``w_c`` ``(2 * hidden, output_dim)``; without: ``bridge`` (kernel ``(hidden,
    output_dim)``, bias). The output layer maps ``(output_dim,)`` to vocabulary logits with
    ``output_kernel`` ``(output_dim, vocabulary)`` and ``output_bias``."""

    src_embeddings: np.ndarray
    tgt_embeddings: np.ndarray
    encoder: list[list[LSTMWeights]]
    decoder: list[LSTMWeights]
    bridge_index: list[int]
    attention: str
    w_a: np.ndarray | None
    w_c: np.ndarray | None
    bridge: tuple[np.ndarray, np.ndarray] | None
    output_kernel: np.ndarray
    output_bias: np.ndarray


class WeightsError(ValueError):
    """A weights file does not hold the model its config describes."""


def bridge_index(encoder_layers: int, decoder_layers: int) -> list[int]:
    """Decoder layer i starts from the final states of the matching top encoder layer."""
    offset = encoder_layers - decoder_layers
    return [min(max(offset + i, 0), encoder_layers - 1) for i in range(decoder_layers)]


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, np.float32)


def from_model(model: Any) -> InferenceWeights:
    """The view of a built ``nmt.model.Seq2Seq``."""
    from nmt.packed import encoder_cells

    def cell(c: Any) -> LSTMWeights:
        return LSTMWeights(_f32(c.kernel), _f32(c.recurrent_kernel), _f32(c.bias))

    encoder, decoder, attention = model.encoder, model.decoder, model.decoder.attention
    tgt_embeddings = _f32(model.tgt_embedding.embeddings)
    if model.tie_embeddings:
        output = (tgt_embeddings.T.copy(), _f32(model.output_bias))
    else:
        output = (_f32(model.output_projection.kernel), _f32(model.output_projection.bias))
    return InferenceWeights(
        src_embeddings=_f32(model.src_embedding.embeddings),
        tgt_embeddings=tgt_embeddings,
        encoder=[
            [cell(c) for c in encoder_cells(rnn, encoder.bidirectional)] for rnn in encoder.rnns
        ],
        decoder=[cell(rnn.cell) for rnn in decoder.rnns],
        bridge_index=bridge_index(model.encoder_layers, model.decoder_layers),
        attention=model.attention_type,
        w_a=None if attention is None or attention.w_a is None else _f32(attention.w_a.kernel),
        w_c=None if attention is None else _f32(attention.w_c.kernel),
        bridge=None
        if attention is not None
        else (_f32(decoder.bridge.kernel), _f32(decoder.bridge.bias)),
        output_kernel=output[0],
        output_bias=output[1],
    )


def _numbered(group: Any, base: str) -> list[Any]:
    """The children ``base``, ``base_1``, ``base_2``, ... of an h5 group, in creation order."""
    pattern = re.compile(rf"{base}(?:_(\d+))?")
    found = [(m, name) for name in group if (m := pattern.fullmatch(name))]
    found.sort(key=lambda item: int(item[0].group(1) or 0))
    return [group[name] for _, name in found]


def _vars(group: Any, count: int) -> list[np.ndarray]:
    return [_f32(group["vars"][str(i)][()]) for i in range(count)]


def from_h5(path: str | Path, config: ModelConfig) -> InferenceWeights:
    """The view read from a ``.weights.h5`` file of the model ``config`` describes (h5py only).
    Raises ``WeightsError`` if the file does not hold that model."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            weights = _read(h5, config)
    except (OSError, KeyError) as err:
        raise WeightsError(f"{path}: not the weights of the model in its config ({err})") from err
    _check(weights, config, path)
    return weights


def _read(h5: Any, config: ModelConfig) -> InferenceWeights:
    def cell(group: Any) -> LSTMWeights:
        return LSTMWeights(*_vars(group["cell"], 3))

    if config.bidirectional:
        layers = _numbered(h5["encoder/rnns"], "bidirectional")
        encoder = [[cell(g["forward_layer"]), cell(g["backward_layer"])] for g in layers]
    else:
        encoder = [[cell(g)] for g in _numbered(h5["encoder/rnns"], "lstm")]
    decoder = [cell(g) for g in _numbered(h5["decoder/rnns"], "lstm")]
    src_embeddings = _vars(h5["layers/embedding"], 1)[0]
    tgt_embeddings = _vars(h5["layers/embedding_1"], 1)[0]
    attention = config.attention
    w_a = w_c = bridge = None
    if attention == "none":
        bridge = tuple(_vars(h5["decoder/bridge"], 2))
    else:
        w_c = _vars(h5["decoder/attention/w_c"], 1)[0]
        if attention == "general":
            w_a = _vars(h5["decoder/attention/w_a"], 1)[0]
    if config.tie_embeddings:
        output_kernel, output_bias = tgt_embeddings.T.copy(), _vars(h5, 1)[0]
    else:
        output_kernel, output_bias = _vars(h5["layers/dense"], 2)
    return InferenceWeights(
        src_embeddings=src_embeddings,
        tgt_embeddings=tgt_embeddings,
        encoder=encoder,
        decoder=decoder,
        bridge_index=bridge_index(config.encoder_layers, config.decoder_layers),
        attention=attention,
        w_a=w_a,
        w_c=w_c,
        bridge=bridge,  # type: ignore[arg-type]
        output_kernel=output_kernel,
        output_bias=output_bias,
    )


def _check(weights: InferenceWeights, config: ModelConfig, path: str | Path) -> None:
    """The shapes the config implies (a file of another model fails here, not in a product)."""
    problems = []
    if len(weights.encoder) != config.encoder_layers:
        problems.append(f"{len(weights.encoder)} encoder layers, not {config.encoder_layers}")
    if len(weights.decoder) != config.decoder_layers:
        problems.append(f"{len(weights.decoder)} decoder layers, not {config.decoder_layers}")
    if weights.src_embeddings.shape[1] != config.embedding_dim:
        problems.append(f"embeddings of {weights.src_embeddings.shape[1]}")
    if weights.decoder and weights.decoder[0].recurrent.shape[0] != config.hidden_dim:
        problems.append(f"a decoder of {weights.decoder[0].recurrent.shape[0]} units")
    if problems:
        raise WeightsError(f"{path}: not the model in its config ({'; '.join(problems)})")
