"""The message catalogue: every entry in both languages, with the same placeholders, and glossary terms."""

import string

import pytest

from autograder.messages import LANGUAGES, catalogue, render
from tests.glossary import avoided_terms

ENTRIES = sorted(catalogue())


def placeholders(template):
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


@pytest.mark.parametrize("key", ENTRIES)
def test_entry_has_both_languages_with_the_same_placeholders(key):
    entry = catalogue()[key]
    assert set(entry) == set(LANGUAGES), f"{key}: languages {sorted(entry)}"
    assert all(entry[lang].strip() for lang in LANGUAGES)
    assert placeholders(entry["ko"]) == placeholders(entry["en"]), key


@pytest.mark.parametrize("key", ENTRIES)
def test_korean_text_follows_the_glossary(key):
    text = catalogue()[key]["ko"]
    used = [word for word in avoided_terms() if word in text]
    assert not used, f"{key} uses {used}; see glossary.md"


def test_render_both_languages_korean_first():
    text = render("is_none", name="q")
    ko, en = text.splitlines()
    assert "값이 None" in ko and "the value is None" in en


def test_unknown_language_falls_back_to_both():
    assert len(render("is_none", "fr", name="q").splitlines()) == 2
