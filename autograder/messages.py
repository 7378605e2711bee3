"""The catalogue of messages shown to students (``messages.toml``), rendered in Korean, English or both.

The language comes from the ``lang`` argument, else from the ``COURSE_LANG`` environment variable
(``ko``, ``en`` or ``both``), else both: Korean first, then English.
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class Text:
    """A parameter of a message that reads differently in each language: the name of a test's part or
    case, say. ``render`` puts its Korean text in the Korean line and its English text in the English one."""

    ko: str
    en: str

    def __str__(self) -> str:
        return self.en

    @classmethod
    def joined(cls, texts: list[Text | str], separator: str = ", ") -> Text:
        """The texts one after another, in each language."""
        return cls(*(separator.join(_in(t, code) for t in texts) for code in LANGUAGES))


def _in(value: object, code: str) -> object:
    """A parameter as the line in language ``code`` shows it."""
    return getattr(value, code) if isinstance(value, Text) else value


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
    """Message ``key`` filled with ``params``, one line per language; a ``Text`` parameter gives each line
    its own language.

    ``key`` and ``lang`` are positional only, so a placeholder may have any name (``{lang}`` included)
    without being taken for them."""
    entry = catalogue()[key]
    return "\n".join(
        entry[code].format(**{name: _in(value, code) for name, value in params.items()})
        for code in languages(lang)
    )


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    """``text`` followed by spaces up to ``columns`` terminal columns."""
    return text + " " * max(columns - width(text), 0)
