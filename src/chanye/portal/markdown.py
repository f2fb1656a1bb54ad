"""Markdown written by staff (news articles) as HTML that is safe to put on a page.

Two layers, so that a mistake in one is caught by the other: markdown-it renders with raw HTML
switched off (``<script>`` typed into an article stays visible text), then nh3 keeps only an
explicit list of tags and attributes. Links may only be http(s), mailto or relative; images only
from this site (a relative path), because an outside image would tell another server who reads
what, and the page's CSP would block it anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "h2",
        "h3",
        "h4",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "del",
        "s",
        "a",
        "blockquote",
        "code",
        "pre",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "img",
    }
)
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},  # markdown-it writes table column alignment as style="text-align:..."
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"
# Headings inside an article sit below the page's own <h1>: "# x" becomes <h2>, h5/h6 <h4>.
LOWEST, HIGHEST = 2, 4


def same_site(url: str) -> bool:
    """A path on this site ("/static/x.png", "img/x.png"); not "//host", not "scheme:..."."""
    url = url.strip()
    if not url or url.startswith("//") or "\\" in url or any(ord(c) < 33 for c in url):
        return False
    head = url.split("/", 1)[0]
    return ":" not in head


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image from this site as <img>; any other image as its alt text only."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if not same_site(src):
        return str(escape(alt))
    title = token.attrGet("title")
    title_attr = f' title="{escape(str(title))}"' if title else ""
    return f'<img src="{escape(src)}" alt="{escape(alt)}"{title_attr}>'


def _clamp_headings(state: Any) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(max(int(token.tag[1]), LOWEST), HIGHEST)
            token.tag = f"h{level}"


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    md.core.ruler.push("clamp_headings", _clamp_headings)
    md.add_render_rule("image", _image)
    return md


_markdown = _parser()


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if same_site(value) else None
    if attribute == "style":
        # Only column alignment survives.
        allowed = {"text-align:left", "text-align:right", "text-align:center"}
        return value if value.replace(" ", "").rstrip(";") in allowed else None
    return value


def clean(html: str) -> str:
    """HTML reduced to the allow-list (also for HTML that did not come from ``render``)."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "template"},
        strip_comments=True,
    )


def render(text: str) -> Markup:
    """Markdown as sanitised HTML, ready for a template (``{{ html }}`` without ``| safe``)."""
    return Markup(clean(_markdown.render(text or "")))


def plain_text(text: str, limit: int = 160) -> str:
    """The text of a Markdown document without markup, shortened (for summaries)."""
    words = nh3.clean(_markdown.render(text or ""), tags=set())
    words = " ".join(str(Markup(words).unescape()).split())
    return words if len(words) <= limit else words[: limit - 1] + "…"
