"""Named places in a proposal: roads, intersections, schools, hospitals, estates, bridges.

Two proposals about 学府路与建设路交叉口 are about the same place however they are worded;
two about different crossings are not, however alike the wording. Precedents and 并案 count a
shared place for more than shared general words. Pure Python on the segmenter's tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.core.text import raw_tokens

# A token ending in one of these is a place by itself (学府路, 和平街, 光明大道, 东风桥).
_SUFFIXES = ("大道", "大街", "路", "街", "巷", "桥", "隧道", "立交", "高速", "国道", "省道")
# These words name a kind of place; with the word before them they name one (实验小学).
_KINDS = frozenset(
    {
        "小学",
        "中学",
        "学校",
        "幼儿园",
        "大学",
        "学院",
        "医院",
        "小区",
        "社区",
        "公园",
        "广场",
        "市场",
        "车站",
        "客运站",
        "火车站",
        "地铁站",
        "商场",
        "村",
        "镇",
        "街道",
        "桥",
        "路口",
        "交叉口",
        "隧道",
        "立交",
    }
)
# General words that are not a place's proper name even before a kind word.
_NOT_NAMES = frozenset(
    {"附近", "周边", "门口", "旁", "周围", "城区", "农村", "城市", "各", "所有", "部分", "一些"}
)
_GENERIC = frozenset({"道路", "马路", "公路", "街路", "街巷", "小路", "支路", "主干路", "干路"})


def _cjk(token: str) -> bool:
    return bool(token) and all("\u4e00" <= ch <= "\u9fff" or ch.isdigit() for ch in token)


def places(tokens: Sequence[str]) -> list[str]:
    """The named places among segmenter tokens (``raw_tokens`` order), first mention first."""
    found: list[str] = []
    previous = ""
    for tok in tokens:
        name = ""
        # the cheap tests first: _cjk looks at every character
        if tok in _KINDS:
            if len(previous) >= 2 and previous not in _NOT_NAMES and _cjk(previous):
                name = previous + tok
        elif tok.endswith(_SUFFIXES) and len(tok) >= 3 and tok not in _GENERIC and _cjk(tok):
            name = tok  # (not a kind word: that was the branch above)
        if name and name not in found:
            found.append(name)
        previous = tok
    return found


def text_places(text: str) -> list[str]:
    """The named places in a normalised text (see :func:`router.core.text.prepare`)."""
    return places(raw_tokens(text))
