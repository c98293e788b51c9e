"""HTML requests (LibreTranslate's ``format: html``): the text of a document cut out for
translation, and the document written again around the translations.

The markup is kept exactly as it came: tags, attributes, comments and the text of elements
that are not to be translated (``script``, ``style``, code and preformatted text, and any
element marked ``translate="no"`` or of class ``notranslate``, as HTML and web translators
have it) are copied through; each run of text between tags that holds a letter or a digit is
translated, its surrounding whitespace kept, and written back escaped. Every text run is
translated alone: a sentence that an inline tag (``<b>``, ``<a>``) cuts in two is translated
in its pieces.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

# elements whose text is not prose to translate
SKIPPED = frozenset({"script", "style", "code", "pre", "kbd", "samp", "var", "textarea"})
# elements without an end tag
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip


@dataclass(frozen=True)
class Document:
    """An HTML text cut at its translatable runs: ``pieces`` alternate kept markup and runs, as
    ``pieces[0] + run(0) + pieces[1] + ... + run(n-1) + pieces[n]``; ``texts`` the runs'
    text to translate (entities decoded, surrounding whitespace taken off), ``spaces`` the
    whitespace around each ``(leading, trailing)``."""

    pieces: tuple[str, ...]
    texts: tuple[str, ...]
    spaces: tuple[tuple[str, str], ...]

    def render(self, translations: list[str]) -> str:
        """The document with each run replaced by its translation (escaped for HTML)."""
        if len(translations) != len(self.texts):
            raise ValueError(f"{len(translations)} translations for {len(self.texts)} runs")
        out = [self.pieces[0]]
        for (lead, trail), text, piece in zip(self.spaces, translations, self.pieces[1:]):
            out += [lead, html.escape(text, quote=False), trail, piece]
        return "".join(out)


class _Runs(HTMLParser):
    """Records where each text run of a document starts and ends, and whether it is to be
    translated (not inside a skipped element)."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0]
        for i, char in enumerate(source):
            if char == "\n":
                self.line_starts.append(i + 1)
        self.events: list[tuple[int, str | None]] = []  # (offset, data or None for markup)
        self.open: list[tuple[str, bool]] = []  # (tag, skips its content)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _skipping(self) -> bool:
        return any(skips for _, skips in self.open)

    def handle_starttag(self, tag, attrs):
        self.events.append((self._offset(), None))
        if tag in VOID:
            return
        values = {name: value or "" for name, value in attrs}
        skips = (
            tag in SKIPPED
            or values.get("translate", "").lower() == "no"
            or "notranslate" in values.get("class", "").split()
        )
        self.open.append((tag, skips))

    def handle_startendtag(self, tag, attrs):
        self.events.append((self._offset(), None))

    def handle_endtag(self, tag):
        self.events.append((self._offset(), None))
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:  # unclosed elements inside it end with it
                del self.open[depth:]
                break

    def handle_data(self, data):
        self.events.append((self._offset(), None if self._skipping() else data))

    def handle_comment(self, data):
        self.events.append((self._offset(), None))

    def handle_decl(self, decl):
        self.events.append((self._offset(), None))

    def handle_pi(self, data):
        self.events.append((self._offset(), None))

    def unknown_decl(self, data):
        self.events.append((self._offset(), None))


def parse(source: str) -> Document:
    """``source``'s runs to translate and the markup around them."""
    parser = _Runs(source)
    parser.feed(source)
    parser.close()
    pieces, texts, spaces = [], [], []
    kept = 0  # where the markup not yet in pieces begins
    ends = [offset for offset, _ in parser.events[1:]] + [len(source)]
    for (offset, data), end in zip(parser.events, ends):
        core = data.strip() if data is not None else ""
        if not any(char.isalnum() for char in core):
            continue
        pieces.append(source[kept:offset])
        texts.append(core)
        lead = data[: len(data) - len(data.lstrip())]
        spaces.append((lead, data[len(data.rstrip()) :]))
        kept = end
    pieces.append(source[kept:])
    return Document(tuple(pieces), tuple(texts), tuple(spaces))
