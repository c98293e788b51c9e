"""Catalogue of named corpora and resolution of user-given corpus strings.

A corpus string is one of:
- a catalogue name (``tatoeba-spa-eng``), found under the data directory;
- a local TSV file path (``src<TAB>tgt[<TAB>...]`` per line, columns in src, tgt order);
- two aligned text files, ``SRC_FILE,TGT_FILE``;
- ``hf:OWNER/NAME`` (or ``hf:/local/dataset/dir``), read with ``datasets.load_dataset``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpora.tatoeba import TATOEBA

DATA_DIR_ENV = "NMT_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


class CorpusError(ValueError):
    """A corpus cannot be found or read."""


@dataclass(frozen=True)
class CatalogueEntry:
    """A named corpus: a file relative to the data directory and what its columns hold."""

    name: str
    relative_path: str
    columns: tuple[str, ...]  # language code of each TSV column, e.g. ("en", "es")
    attribution: str
    licence: str


@dataclass(frozen=True)
class CorpusSpec:
    """A resolved corpus: how to read it and which column holds which language."""

    name: str
    kind: Literal["tsv", "parallel", "hub"]
    paths: tuple[str, ...]
    columns: tuple[str, ...] | None  # languages of TSV columns; None = (src, tgt) order
    attribution: str = ""
    licence: str = ""


CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry for entry in (CatalogueEntry(**fields) for fields in TATOEBA)
}


def default_data_dir() -> Path | None:
    """``$NMT_DATA_DIR``, else ``../shared/corpora`` beside the repository, if it exists."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    candidate = REPO_ROOT.parent / "shared" / "corpora"
    return candidate if candidate.is_dir() else None


def resolve_corpus(corpus: str, data_dir: str | None = None) -> CorpusSpec:
    """Turn a corpus string into a CorpusSpec, checking that local files exist."""
    if not corpus:
        raise CorpusError("no corpus given (data.corpus / --corpus)")
    if corpus.startswith("hf:"):
        return CorpusSpec(name=corpus, kind="hub", paths=(corpus[3:],), columns=None)
    if corpus in CATALOGUE:
        entry = CATALOGUE[corpus]
        root = Path(data_dir) if data_dir else default_data_dir()
        if root is None:
            raise CorpusError(
                f"corpus {corpus!r} needs a data directory: pass --data-dir or set ${DATA_DIR_ENV}"
            )
        path = root / entry.relative_path
        if not path.is_file():
            raise CorpusError(f"corpus {corpus!r}: {path} not found (data directory {root})")
        return CorpusSpec(
            name=corpus,
            kind="tsv",
            paths=(str(path),),
            columns=entry.columns,
            attribution=entry.attribution,
            licence=entry.licence,
        )
    if "," in corpus:
        src, tgt = (part.strip() for part in corpus.split(",", 1))
        for path in (src, tgt):
            if not Path(path).is_file():
                raise CorpusError(f"parallel corpus file not found: {path}")
        return CorpusSpec(name=corpus, kind="parallel", paths=(src, tgt), columns=None)
    if Path(corpus).is_file():
        return CorpusSpec(name=corpus, kind="tsv", paths=(corpus,), columns=None)
    known = ", ".join(sorted(CATALOGUE))
    raise CorpusError(
        f"unknown corpus {corpus!r}: not a catalogue name ({known}), an existing file, "
        "'SRC_FILE,TGT_FILE' or 'hf:OWNER/NAME'"
    )
