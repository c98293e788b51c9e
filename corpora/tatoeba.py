"""The Tatoeba sentence pairs exported by manythings.org (one ``English<TAB>Other`` per line)."""

_ATTRIBUTION = "Tatoeba (tatoeba.org) via www.manythings.org/anki, CC-BY 2.0 FR"
_LICENCE = "CC-BY 2.0 FR"

TATOEBA = [
    {
        "name": f"tatoeba-{code3}-eng",
        "relative_path": f"tatoeba-{code3}-eng/{code3}.txt",
        "columns": ("en", code2),
        "attribution": _ATTRIBUTION,
        "licence": _LICENCE,
    }
    for code3, code2 in (("spa", "es"), ("fra", "fr"), ("deu", "de"), ("vie", "vi"))
]
