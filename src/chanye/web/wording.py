"""What people read on pages: Chinese only.

The domain's messages are written for both the command line and the web, Chinese first with an
English line after a slash ("文件超过 20 MB 上限 / file larger than the limit"); the CLI prints
both, a page shows only the Chinese.
"""

from __future__ import annotations

import re

# A slash and then text that starts with a Latin letter and holds no Chinese up to the end.
_ENGLISH_TAIL = re.compile(r"\s*/\s*[A-Za-z][^\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]*$")


def chinese(message: object) -> str:
    """The Chinese part of a bilingual message (the whole text when it has no English tail)."""
    text = str(message)
    return _ENGLISH_TAIL.sub("", text) or text


# The functions an amount's arithmetic may use, as a person says them.
_FUNCTIONS = {
    "min": "取较小值",
    "max": "取较大值",
    "tier": "按档取值",
    "round": "四舍五入",
    "abs": "绝对值",
}
_CALL = re.compile(r"\b(" + "|".join(_FUNCTIONS) + r")\(")


def formula_in_words(arithmetic: str) -> str:
    """``min(营业收入 * 0.005, 2,000,000.00)`` → ``取较小值(营业收入 * 0.005, 2,000,000.00)``."""
    return _CALL.sub(lambda m: _FUNCTIONS[m.group(1)] + "(", arithmetic)
