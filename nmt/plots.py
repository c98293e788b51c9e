"""A PNG plot of training loss, dev loss and dev BLEU per epoch, written into the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nmt.io import atomic_path

PLOT_FILE = "training.png"


def plot_history(history: list[dict[str, Any]], path: Path) -> Path | None:
    """Draw loss (left axis) and dev BLEU (right axis) against epoch; returns the path written,
    or None when there is nothing to plot. ``history`` rows hold ``epoch``, ``loss``,
    ``val_loss`` and ``val_bleu`` (as in ``train_log.csv``)."""
    rows = [row for row in history if "epoch" in row]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe in worker threads and on servers
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in rows]
    fig, loss_axis = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        for key, label, style in (("loss", "train loss", "-"), ("val_loss", "dev loss", "--")):
            values = [row.get(key) for row in rows]
            if any(v is not None for v in values):
                loss_axis.plot(epochs, values, style, color="tab:blue", label=label, marker=".")
        from matplotlib.ticker import MaxNLocator

        loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        loss_axis.set_xlabel("epoch")
        loss_axis.set_ylabel("loss", color="tab:blue")
        bleu_axis = loss_axis.twinx()
        bleu = [row.get("val_bleu") for row in rows]
        bleu_axis.plot(epochs, bleu, color="tab:red", label="dev BLEU", marker=".")
        bleu_axis.set_ylabel("dev BLEU", color="tab:red")
        handles = loss_axis.get_legend_handles_labels()
        extra = bleu_axis.get_legend_handles_labels()
        loss_axis.legend(handles[0] + extra[0], handles[1] + extra[1], loc="center right")
        loss_axis.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(Path(path), suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
