"""The message catalogue: every entry in both languages, with the same placeholders, and glossary terms."""

import re
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


def sample(field: str, spec: str) -> object:
    """A value for placeholder ``field`` that its format ``spec`` accepts, recognisable in the output."""
    if spec and spec[-1] in "eEfFgG%":
        return 1.25
    if spec and spec[-1] in "dxXob":
        return 7
    return f"‹{field}›"


@pytest.mark.parametrize("key", ENTRIES)
def test_every_message_renders_with_its_placeholders(key):
    """Each message is rendered as the code renders it, with every placeholder it has, in each language:
    no placeholder can be taken for one of render's own arguments (``{lang}`` once was: a KeyError)."""
    entry = catalogue()[key]
    fields = {f: spec for lang in LANGUAGES for _, f, spec, _ in string.Formatter().parse(entry[lang]) if f}
    params = {field: sample(field, spec) for field, spec in fields.items()}
    for lang in (*LANGUAGES, None):
        text = render(key, lang, **params)
        for field, value in params.items():
            if isinstance(value, str):
                assert value in text, f"{key}: {{{field}}} not filled in {lang or 'both'}"
    both = render(key, **params)
    assert len(both.splitlines()) >= 2 and both.startswith(render(key, "ko", **params))


FILE_PLACEHOLDERS = {"path", "notebook", "found", "file", "files", "folder"}
# particles whose form depends on how the word before them ends (받침): 을/를, 이/가, 은/는, 와/과, (으)로
SOUND_PARTICLE = re.compile(
    r"^(\((?:을|를|이|가|은|는|와|과|으)\)|을|를|이|가|은|는|와|과|으로|로)(?![가-힣])"
)


@pytest.mark.parametrize("key", ENTRIES)
def test_no_particle_has_to_guess_how_a_file_name_ends(key):
    """A file name's last sound cannot be known (``exercises.ipynb``: 비), so the Korean sentence puts no
    particle right after one: "{path} 파일을", not "{path}을(를)"."""
    text = catalogue()[key]["ko"]
    for match in re.finditer(r"\{(\w+)[^}]*\}", text):
        if match.group(1) in FILE_PLACEHOLDERS:
            after = text[match.end() :]
            assert not SOUND_PARTICLE.match(after), (
                f"{key}: a particle after {{{match.group(1)}}}: {after[:12]!r}"
            )


def test_a_text_parameter_reads_in_each_language():
    from autograder.messages import Text

    ko, en = render("parts_summary", earned=1, points=2, passed=Text("가", "a"), failed="—").splitlines()
    assert "통과: 가" in ko and "passed: a" in en and "가" not in en
    assert Text.joined([Text("가", "a"), "b"]) == Text("가, b", "a, b")
