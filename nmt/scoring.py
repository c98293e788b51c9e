"""sacreBLEU scoring (BLEU, chrF, TER) with signatures."""

from __future__ import annotations

from typing import Any

import sacrebleu


def score_corpus(
    hypotheses: list[str], references: list[str], metrics: tuple[str, ...] = ("bleu", "chrf")
) -> dict[str, Any]:
    """Corpus-level scores with sacreBLEU defaults (13a tokenisation, cased, detokenised input).

    Returns ``{"bleu": float, "bleu_signature": str, "chrf": ..., "ter": ...}``.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    makers = {"bleu": sacrebleu.BLEU, "chrf": sacrebleu.CHRF, "ter": sacrebleu.TER}
    result: dict[str, Any] = {}
    for name in metrics:
        metric = makers[name]()
        score = metric.corpus_score(hypotheses, [references])
        result[name] = round(float(score.score), 2)
        result[f"{name}_signature"] = str(metric.get_signature())
    return result


def format_scores(scores: dict[str, Any]) -> str:
    """One line per metric: ``BLEU = 41.23  (nrefs:1|case:mixed|...)``."""
    lines = []
    for name in ("bleu", "chrf", "ter"):
        if name in scores:
            lines.append(f"{name.upper():5s}= {scores[name]:6.2f}  ({scores[name + '_signature']})")
    return "\n".join(lines)
