"""Runbook formats, each turned into Markdown-style headings for one chunker.

Markdown and plain text pass through; reStructuredText section titles (underlined, optionally overlined)
become `#` headings by order of first use of each adornment; HTML `<h1>`..`<h6>` become headings and
the text of other elements becomes paragraphs (scripts and styles dropped). Deliberately left out:
rST directives and roles, HTML tables beyond their text.

Example:
    to_markdown("Title\\n=====\\n\\nBody", ".rst")  # "# Title\\n\\nBody"
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

__all__ = ["SUFFIXES", "to_markdown"]

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm"})
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")


def to_markdown(text: str, suffix: str) -> str:
    """The document as Markdown-ish text with `#` headings."""
    if suffix == ".rst":
        return _rst(text)
    if suffix in {".html", ".htm"}:
        parser = _Html()
        parser.feed(text)
        parser.close()
        return parser.markdown()
    return text


def _rst(text: str) -> str:
    lines = text.splitlines()
    levels: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        over = bool(_ADORNMENT.match(line)) and i + 2 < len(lines) and _ADORNMENT.match(lines[i + 2] or "")
        if over and lines[i + 1].strip():
            title, char, i = lines[i + 1].strip(), "o" + line[0], i + 3
        elif line.strip() and _ADORNMENT.match(nxt) and len(nxt.strip()) >= len(line.strip()):
            title, char, i = line.strip(), nxt[0], i + 2
        else:
            out.append(line)
            i += 1
            continue
        if char not in levels:
            levels.append(char)
        out.append("#" * min(levels.index(char) + 1, 6) + " " + title)
    return "\n".join(out)


class _Html(HTMLParser):
    _BLOCKS = frozenset({"p", "li", "pre", "div", "tr", "dd", "dt", "blockquote", "br", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skip = 0
        self._heading = 0
        self._title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag == "title":
            self._title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self._parts.append("\n\n" + "#" * self._heading + " ")
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = 0
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._title:
            self.title += data.strip()
            return
        self._parts.append(" ".join(data.split()) if self._heading else data)

    def markdown(self) -> str:
        body = re.sub(r"\n{3,}", "\n\n", "".join(self._parts)).strip()
        lines = [line.strip() if line.startswith("#") else line.rstrip() for line in body.splitlines()]
        text = "\n".join(lines)
        return (
            f"---\ntitle: {json.dumps(self.title)}\n---\n{text}" if self.title and not text.startswith("# ") else text
        )
