"""Typed, validated settings for data, model, training and decoding.

A config is a tree of dataclasses. It is read from YAML, overridden with ``key.sub=value`` strings
from the command line, and written back as YAML into every run directory. Unknown keys and values
of the wrong type are errors, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A configuration key or value is invalid."""


@dataclass
class DataConfig:
    """Where the corpus is and how it is cleaned, split and tokenized."""

    corpus: str = ""  # catalogue name, local TSV path, "SRC_FILE,TGT_FILE", or "hf:owner/name"
    src_lang: str = ""
    tgt_lang: str = ""
    data_dir: str | None = (
        None  # root of the corpus catalogue; else $NMT_DATA_DIR, ../shared/corpora
    )
    hf_config: str | None = None  # hub dataset config name (e.g. "en-es")
    hf_split: str = "train"
    max_pairs: int | None = None  # keep only this many cleaned pairs (quick experiments)
    dev_size: int = 2000  # pairs in the dev split (taken by whole sentence group)
    test_size: int = 2000
    split_seed: int = 1234
    # a dev/test set of one's own (any corpus string), used as given: the random split then
    # makes only the other part, and dev_size/test_size of the given part are ignored
    dev_corpus: str = ""
    test_corpus: str = ""
    # drop training pairs that share a source or a target with a given dev/test set (they are
    # counted either way): the split by sentence group cannot keep such pairs out of training
    remove_leaks: bool = True
    max_chars: int = 1000  # pairs with a longer side are dropped while cleaning
    max_length_ratio: float = 4.0  # char-length ratio filter (applied when both sides >= 10 chars)
    max_tokens: int = 100  # training pairs with more subword tokens on a side are skipped
    vocab_size: int = 8000  # per side (or total when joint_vocab)
    joint_vocab: bool = False
    sp_model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = 1.0
    lowercase: bool = False


@dataclass
class ModelConfig:
    """Encoder-decoder shape. ``hidden_dim`` is the decoder's LSTM size; a bidirectional encoder
    uses ``hidden_dim // 2`` per direction so that its states fit the decoder."""

    embedding_dim: int = 256
    hidden_dim: int = 512
    encoder_layers: int = 2
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: Literal["none", "dot", "general"] = "dot"
    dropout: float = 0.2
    tie_embeddings: bool = True
    # every weight but the embeddings drawn uniform in +-init_range (OpenNMT's param_init; a
    # lower loss per update, docs/recipe.md); None: Keras' initialisers
    init_range: float | None = 0.1


@dataclass
class TrainConfig:
    """Optimisation and run control."""

    epochs: int = 20
    # small batches: in a fixed CPU time more updates learn more than bigger ones (docs/recipe.md)
    token_budget: int = 1024  # max (batch * padded length) tokens per batch, per side
    max_batch_size: int = 128
    # early learning is limited by the rate: 400 updates at 2e-3 / 3e-3 / 4e-3 gave dev BLEU
    # 9 / 13 / 15 (docs/recipe.md); the plateau schedule lowers it once dev loss stalls
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    lr_decay: Literal["none", "inverse_sqrt", "plateau"] = "plateau"  # plateau: on dev loss
    min_learning_rate: float = 1e-5
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    clipnorm: float = 1.0  # each gradient clipped to this norm (Keras' clipnorm); 0: none
    global_clipnorm: float = 0.0  # all gradients together clipped to this norm; 0: none
    label_smoothing: float = 0.1
    patience: int = 4  # early stopping on dev BLEU
    seed: int = 1234
    jit_compile: bool = False
    # training on a CPU runs the LSTM layers' weights through nmt.cpu_lstm (tested equal to
    # Keras' loop, fewer and larger products); GPUs keep cuDNN
    cpu_lstm: bool = True
    # Adam's update as TensorFlow's one-pass kernel (nmt.optimizer; the same formula as Keras')
    fused_adam: bool = True
    # auto: mixed_bfloat16 on a CPU that multiplies bfloat16 natively (faster steps, the same
    # dev BLEU per update in docs/training_speed.md), float32 elsewhere (nmt.env.training_precision)
    mixed_precision: Literal["auto", "none", "mixed_float16", "mixed_bfloat16"] = "auto"
    subword_sampling: bool = False
    sampling_alpha: float = 0.1
    dev_eval_size: int = 1000  # dev pairs translated for BLEU at each evaluation (0 = all)
    # dev BLEU and loss at every epoch end and after this many steps without one (None: epoch
    # ends only): long epochs still get a best checkpoint, early stopping and a decaying rate
    eval_steps: int | None = 500
    # stop within this many minutes of training, plus one dev evaluation (resumed time counts)
    max_minutes: float | None = None
    # with max_minutes: over this last share of the minutes the rate falls linearly to
    # min_learning_rate, so a run that the clock ends still ends on small, settling steps
    # (a 20-minute de->en run: +0.5 test BLEU at beam 5, docs/recipe.md); 0: none
    cooldown: float = 0.25
    steps_per_epoch: int | None = None  # cut epochs to this many batches (None = full pass)
    strategy: Literal["default", "mirrored", "multi-worker"] = "default"
    tensorboard: bool = True
    backup_minutes: float = 10.0  # resumable state saved mid-epoch this often (single worker)
    backup_steps: int | None = None  # ... or every this many steps (the only way in multi-worker)
    keep_epochs: int = 0  # keep the last N epochs' weights in epochs/ (for nmt.average)


@dataclass
class DecodeConfig:
    """Translation defaults stored with the model, so users need not repeat them."""

    beam_size: int = 5
    length_penalty: float = 0.6  # GNMT alpha
    # when a sentence's beam search ends: "heuristic" once no live hypothesis ending at the next
    # step could beat the finished ones (OpenNMT, Hugging Face); "exact" once none could even at
    # the maximum length (GNMT): slower, and rarely a different result
    stopping: Literal["heuristic", "exact"] = "heuristic"
    # beam search drops a live hypothesis whose log-probability is more than this below its
    # sentence's best live one, and stops computing it (GNMT's pruning, Sockeye's --beam-prune);
    # 0 keeps every beam. The default was chosen by dev BLEU against speed
    # (docs/translate_speed.md): it costs almost no BLEU and saves much of beam search's work
    beam_prune: float = 2.5
    # translate an input without final punctuation with the mark the training sources end in
    # (when nearly all do), and take the target's mark off the output again (nmt.end_marks)
    complete_end_mark: bool = True
    # translate each sentence of a line alone and join the translations (nmt.sentences): a
    # model trained on single sentences drops or garbles the rest of a line of several
    split_sentences: bool = True
    max_length_a: float = 2.0  # max output length = a * src_len + b
    max_length_b: int = 10
    # source pieces per translation batch, at every beam size: real pieces where the encoder
    # skips padding (the CPU default, nmt.packed), batch * padded length otherwise
    token_budget: int = 16000
    # sentences per batch: greedy batches end in a tail of few long sentences, and a step costs
    # nearly as much for few rows as for many, so large batches win (docs/translate_speed.md)
    max_batch_size: int = 1024


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Check value ranges that types alone cannot express."""
        m, t, d = self.model, self.train, self.data
        if m.bidirectional and m.hidden_dim % 2:
            raise ConfigError("model.hidden_dim must be even with a bidirectional encoder")
        for name in ("embedding_dim", "hidden_dim", "encoder_layers", "decoder_layers"):
            if getattr(m, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1")
        if not 0.0 <= m.dropout < 1.0:
            raise ConfigError("model.dropout must be in [0, 1)")
        if m.init_range is not None and not m.init_range > 0.0:
            raise ConfigError("model.init_range must be > 0 (or null for Keras' initialisers)")
        if t.clipnorm < 0 or t.global_clipnorm < 0:
            raise ConfigError("train.clipnorm and train.global_clipnorm must be >= 0 (0: none)")
        if t.clipnorm and t.global_clipnorm:
            raise ConfigError(
                "train.clipnorm and train.global_clipnorm are both set: clip one way "
                "(e.g. --set train.clipnorm=0 --set train.global_clipnorm=5)"
            )
        if not 0.0 <= t.label_smoothing < 1.0:
            raise ConfigError("train.label_smoothing must be in [0, 1)")
        if t.token_budget < 1 or t.max_batch_size < 1 or t.epochs < 1:
            raise ConfigError("train.token_budget, max_batch_size and epochs must be >= 1")
        if t.backup_minutes <= 0 or (t.backup_steps is not None and t.backup_steps < 1):
            raise ConfigError("train.backup_minutes must be > 0 and train.backup_steps >= 1")
        if t.keep_epochs < 0:
            raise ConfigError("train.keep_epochs must be >= 0")
        if t.eval_steps is not None and t.eval_steps < 1:
            raise ConfigError("train.eval_steps must be >= 1 (or null: at epoch ends only)")
        if t.max_minutes is not None and not t.max_minutes > 0:
            raise ConfigError("train.max_minutes must be > 0")
        if not 0.0 <= t.cooldown < 1.0:
            raise ConfigError("train.cooldown must be in [0, 1) (a share of train.max_minutes)")
        if t.steps_per_epoch is not None and t.steps_per_epoch < 1:
            raise ConfigError("train.steps_per_epoch must be >= 1")
        if d.max_pairs is not None and d.max_pairs < 1:
            raise ConfigError("data.max_pairs must be >= 1 (or null: every pair)")
        if d.vocab_size < 8:
            raise ConfigError("data.vocab_size must be >= 8")
        if (d.dev_size < 1 and not d.dev_corpus) or d.test_size < 0:
            raise ConfigError(
                "data.dev_size must be >= 1 (unless data.dev_corpus is given) "
                "and data.test_size >= 0"
            )
        if self.decode.beam_size < 1:
            raise ConfigError("decode.beam_size must be >= 1")
        if not self.decode.beam_prune >= 0.0:
            raise ConfigError("decode.beam_prune must be >= 0 (0: no pruning)")
        if self.schema_version != SCHEMA_VERSION:
            raise ConfigError(
                f"config schema_version {self.schema_version} is not supported "
                f"(this version of nmt reads {SCHEMA_VERSION})"
            )


def _check_type(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` converted to ``hint`` where that is lossless, else raise ConfigError."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {list(allowed)}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {hint}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"valid keys here: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{where}{name}.")
        else:
            kwargs[name] = _check_type(value, hint, f"{where}{name}")
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build and validate a Config from nested plain values."""
    config = _build(Config, values, "")
    config.validate()
    return config


def _parse_scalar(text: str) -> Any:
    """Parse an override value the way YAML would (``3`` -> int, ``true`` -> bool, ``null``)."""
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    return value


def _field_hint(parts: list[str]) -> Any:
    """The type hint of the config field at ``parts`` (None if there is no such field)."""
    cls: Any = Config
    hint = None
    for part in parts:
        if not dataclasses.is_dataclass(cls):
            return None
        hint = typing.get_type_hints(cls).get(part)
        if hint is None:
            return None
        cls = hint
    return hint


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested dict (in place) and return it.

    Values are read as YAML scalars (``3``, ``true``, ``null``), except for string fields,
    which take the text as it is (so ``data.src_lang=no`` stays ``"no"``).
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        hint = _field_hint(parts)
        if hint is str:
            node[parts[-1]] = text
        elif hint == str | None:
            node[parts[-1]] = None if text in ("null", "~", "") else text
        else:
            node[parts[-1]] = _parse_scalar(text)
    return values


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or defaults when ``path`` is None) and apply overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise ConfigError(f"{path}: no such config file") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: cannot read it ({err})") from err
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        values = loaded or {}
    apply_overrides(values, overrides or [])
    return config_from_dict(values)


def save_config(config: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    from nmt.io import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
