"""Word alignments and attention heat maps from a translation's attention weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmt.tokenizer import WORD_START


def word_index(pieces: list[str]) -> list[int]:
    """The word number of each SentencePiece piece (a piece starting with ``▁`` opens a word)."""
    index, word = [], -1
    for i, piece in enumerate(pieces):
        if i == 0 or piece.startswith(WORD_START):
            word += 1
        index.append(word)
    return index


def word_alignment(
    src_pieces: list[str], tgt_pieces: list[str], attention: np.ndarray
) -> list[tuple[int, int]]:
    """``attention`` ``(len(tgt_pieces), len(src_pieces))`` -> sorted ``(src_word, tgt_word)``
    pairs: each target word is linked to the source word that gets most of its attention
    (pieces' weights summed over a source word, averaged over a target word)."""
    if not src_pieces or not tgt_pieces:
        return []
    attention = np.asarray(attention, dtype=np.float64)
    if attention.shape != (len(tgt_pieces), len(src_pieces)):
        raise ValueError(
            f"attention has shape {attention.shape}, expected "
            f"({len(tgt_pieces)}, {len(src_pieces)})"
        )
    src_words, tgt_words = word_index(src_pieces), word_index(tgt_pieces)
    by_src = np.zeros((len(tgt_pieces), src_words[-1] + 1))
    np.add.at(by_src.T, src_words, attention.T)  # sum source pieces into words
    by_word = np.zeros((tgt_words[-1] + 1, by_src.shape[1]))
    np.add.at(by_word, tgt_words, by_src)
    return sorted((int(np.argmax(row)), t) for t, row in enumerate(by_word))


def pharaoh(pairs: list[tuple[int, int]]) -> str:
    """Pharaoh format: ``"0-0 1-2 2-1"`` (source-target word numbers from 0)."""
    return " ".join(f"{s}-{t}" for s, t in pairs)


def plot_attention(
    attention: np.ndarray,
    src_pieces: list[str],
    tgt_pieces: list[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Write a heat map of ``attention`` ``(len(tgt_pieces), len(src_pieces))`` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = max(len(tgt_pieces), 1), max(len(src_pieces), 1)
    fig, ax = plt.subplots(figsize=(min(2 + 0.35 * cols, 40), min(1.5 + 0.35 * rows, 40)))
    data = np.asarray(attention) if np.size(attention) else np.zeros((rows, cols))
    ax.imshow(data, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_pieces)), src_pieces, rotation=90)
    ax.set_yticks(range(len(tgt_pieces)), tgt_pieces)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
