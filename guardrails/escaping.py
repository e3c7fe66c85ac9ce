"""Escaping a guarded answer for the surface that shows it: Markdown, HTML or Slack mrkdwn.

Model output is untrusted: rendered raw it can carry links, images that call home, mentions that page a
channel, or HTML. Each helper makes the text display literally on its surface.

Example:
    escape_slack("<!channel> see <http://x|here>")  # "&lt;!channel&gt; see &lt;http://x|here&gt;"
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Literal

__all__ = ["Surface", "escape_for", "escape_html", "escape_markdown", "escape_slack"]

Surface = Literal["markdown", "html", "slack", "plain"]
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape_html(text: str) -> str:
    """HTML-escape `& < > " '`."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown syntax so links, images, emphasis and raw HTML show as text."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def escape_slack(text: str) -> str:
    """Slack mrkdwn: escape `& < >` (this also defuses `<!channel>`, `<@U123>` and `<url|label>` links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPERS: dict[str, Callable[[str], str]] = {
    "markdown": escape_markdown,
    "html": escape_html,
    "slack": escape_slack,
    "plain": lambda text: text,
}


def escape_for(surface: Surface, text: str) -> str:
    """Escape `text` for `surface`."""
    return _ESCAPERS[surface](text)
