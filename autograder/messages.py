"""The catalogue of messages shown to students (``messages.toml``), rendered in Korean, English or both.

The language comes from the ``lang`` argument, else from the ``COURSE_LANG`` environment variable
(``ko``, ``en`` or ``both``), else both: Korean first, then English.
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from functools import cache
from importlib import resources

LANGUAGES = ("ko", "en")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every message key mapped to its ``{"ko": ..., "en": ...}`` templates."""
    text = resources.files(__package__).joinpath("messages.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def languages(lang: str | None = None) -> tuple[str, ...]:
    """The languages to render: an explicit ``lang``, else ``$COURSE_LANG``, else both."""
    choice = (lang or os.environ.get("COURSE_LANG") or "both").strip().lower()
    if choice in LANGUAGES:
        return (choice,)
    return LANGUAGES


def render(key: str, lang: str | None = None, /, **params: object) -> str:
    """Message ``key`` filled with ``params``, one line per language.

    ``key`` and ``lang`` are positional only, so a placeholder may have any name (``{lang}`` included)
    without being taken for them."""
    entry = catalogue()[key]
    return "\n".join(entry[code].format(**params) for code in languages(lang))


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    """``text`` followed by spaces up to ``columns`` terminal columns."""
    return text + " " * max(columns - width(text), 0)
