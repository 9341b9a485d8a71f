"""Languages the product reads and answers in besides English: detection and the shared Chinese words.

The catalogue is English. ``agent.chinese`` reads a Chinese request with these words, and the
reply templates name categories with them, so the two always agree.

Example::

    >>> from tailtalk.languages import is_chinese, CATEGORY_NAMES_ZH
    >>> is_chinese("我想看一部轻松的爱情喜剧"), is_chinese("a light romantic comedy"), CATEGORY_NAMES_ZH["comedy"]
    (True, False, '喜剧')
"""

from __future__ import annotations

import re

# Category words, most specific first; each leads to a catalogue category name.
CATEGORY_WORDS_ZH: dict[str, tuple[str, ...]] = {
    "comedy": ("喜剧", "搞笑", "好笑", "轻松", "幽默", "逗"),
    "romance": ("爱情", "浪漫", "恋爱"),
    "horror": ("恐怖", "吓人", "鬼片"),
    "thriller": ("惊悚",),
    "mystery": ("悬疑", "推理"),
    "animation": ("动画", "卡通", "动漫"),
    "family": ("家庭", "合家欢"),
    "sci-fi": ("科幻",),
    "action": ("动作",),
    "adventure": ("冒险",),
    "crime": ("犯罪", "黑帮"),
    "war": ("战争",),
    "documentary": ("纪录片",),
    "musical": ("歌舞",),
    "music": ("音乐",),
    "fantasy": ("奇幻", "魔幻"),
    "western": ("西部",),
    "drama": ("剧情",),
    "biography": ("传记",),
    "history": ("历史",),
    "sport": ("体育", "运动"),
}
# The Chinese name a reply gives each category (the first word of its list).
CATEGORY_NAMES_ZH = {category: words[0] for category, words in CATEGORY_WORDS_ZH.items()}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def is_chinese(text: str) -> bool:
    """Whether the text is written in Chinese: more Chinese characters than Latin letters."""
    return len(_CJK.findall(text)) > len(_LATIN.findall(text))


def language_of(text: str) -> str:
    """ "zh" for Chinese, else "en" (the languages the reply templates are written in)."""
    return "zh" if is_chinese(text) else "en"
