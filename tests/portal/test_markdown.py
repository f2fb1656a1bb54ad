"""Markdown from news writers becomes HTML with nothing that runs: no scripts, no event handlers,
no javascript:/data: links, no frames, no raw HTML; only this site's images."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from chanye.portal.markdown import clean, plain_text, render

ATTACKS = {
    "script": "<script>alert(1)</script>",
    "img onerror": '<img src="x" onerror="alert(1)">',
    "javascript link": "[x](javascript:alert(1))",
    "javascript link, mixed case": "[x](JaVaScRiPt:alert(1))",
    "javascript autolink": "<javascript:alert(1)>",
    "data link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data image link": "[x](data:image/png;base64,AAAA)",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "raw html block": '<div onclick="alert(1)">\n\n<b>bold</b>\n\n</div>',
    "svg": "<svg onload=alert(1)><circle r=4></svg>",
    "style": "<style>body{display:none}</style>",
    "link with html in title": '[x](https://ok.example "<script>alert(1)</script>")',
}


def tags_of(html: str) -> set[str]:
    return {m.lower() for m in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", html)}


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_nothing_that_runs_survives(source: str) -> None:
    html = str(render(source))
    assert tags_of(html) <= {"p", "a", "b", "strong", "em", "code", "pre"}
    assert not {"script", "iframe", "img", "svg", "style", "div"} & tags_of(html)
    lowered = html.lower()
    assert 'href="javascript' not in lowered and 'href="data' not in lowered
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered), html


def test_raw_html_is_shown_as_text_not_markup() -> None:
    html = str(render("<script>alert(1)</script>"))
    assert "&lt;script&gt;" in html and "<script" not in html


def test_sanitiser_alone_strips_dangerous_html() -> None:
    """The second layer holds even for HTML that did not come from Markdown."""
    html = clean(
        '<p onclick="x" style="color:red">t</p><a href="javascript:alert(1)">y</a>'
        '<img src="https://evil.example/p.png" onerror="alert(1)"><script>bad()</script>'
        '<iframe src="/x"></iframe><a href="https://ok.example">ok</a>'
    )
    assert "onclick" not in html and "onerror" not in html and "style" not in html
    assert "javascript" not in html and "bad()" not in html and "iframe" not in html
    assert "evil.example" not in html
    assert '<a href="https://ok.example" rel="noopener noreferrer">ok</a>' in html


def test_markdown_features_that_articles_use() -> None:
    html = render(
        "# 标题\n\n## 小节\n\n**粗体** *斜体* ~~删除~~ `代码`\n\n- 一\n- 二\n\n1. 甲\n\n"
        "> 引用\n\n| 规模 | 集群 |\n|---|--:|\n| 万亿级 | 1 |\n\n"
        "[链接](https://www.gz.gov.cn/) [本站](/system) [邮件](mailto:office@example.cn)"
    )
    assert isinstance(html, Markup)
    text = str(html)
    assert "<h2>标题</h2>" in text and "<h3>小节</h3>" not in text and "<h2>小节</h2>" in text
    assert "<strong>粗体</strong>" in text and "<em>斜体</em>" in text and "<s>删除</s>" in text
    assert "<ul>" in text and "<ol>" in text and "<blockquote>" in text
    assert "<table>" in text and '<td style="text-align:right">1</td>' in text
    assert '<a href="https://www.gz.gov.cn/" rel="noopener noreferrer">链接</a>' in text
    assert '<a href="/system" rel="noopener noreferrer">本站</a>' in text
    assert 'href="mailto:office@example.cn"' in text


def test_images_only_from_this_site() -> None:
    html = str(
        render("![图](/static/favicon.svg) ![外](https://evil.example/t.png) ![协](//e.x/a)")
    )
    assert '<img src="/static/favicon.svg" alt="图">' in html
    assert "evil.example" not in html and "e.x" not in html
    assert html.count("<img") == 1 and "外" in html  # the alt text stays


def test_plain_text_drops_markup_and_shortens() -> None:
    assert plain_text("**粗体** 与 [链接](https://x.cn)\n\n- 一\n- 二") == "粗体 与 链接 一 二"
    assert plain_text("字" * 300, limit=10) == "字" * 9 + "…"
