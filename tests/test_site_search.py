"""Korean search on the course's site (autograder/site/korean.py): the stemmer, and a real Sphinx build
that indexes Korean words without their particles. The same stemmer in the browser: tests/test_site.py."""

import json
import re

import pytest

from autograder.site.korean import ENDINGS, stem

# a word as written → its index form; every word a search for the bare noun must find
FORMS = {
    "기울기": "기울기",
    "기울기를": "기울기",
    "기울기는": "기울기",
    "기울기가": "기울기",
    "기울기의": "기울기",
    "기울기에서": "기울기",
    "기울기까지": "기울기",
    "기울기입니다": "기울기",
    "텐서에서도": "텐서",
    "그래프로": "그래프",
    "그래프와": "그래프",
    "미분으로만": "미분",
    "역전파부터": "역전파",
    "계산합니다": "계산",
    "값을": "값",
    "곱은": "곱",
}


@pytest.mark.parametrize(("word", "expected"), FORMS.items())
def test_particles_and_endings_are_stripped(word, expected):
    assert stem(word) == expected


def test_a_word_is_never_stripped_to_nothing():
    for ending in ENDINGS:
        assert stem(ending) and ending.startswith(stem(ending)), ending
    assert stem("이") == "이"


def test_latin_words_get_the_english_stemmer():
    assert stem("Gradients") == "gradient"
    assert stem("tensor를") == "tensor"  # the particle first, then English stemming
    assert stem("backward") == "backward"


def test_a_noun_with_and_without_its_particle_meet():
    """Whatever a noun ends in, the noun and the noun with a particle have the same index form."""
    for noun in ("기울기", "나이", "결과", "평가", "사이", "손실", "값", "텐서"):
        for particle in ("를", "는", "이", "가", "의", "에서", "으로", "도", "만", "까지는", "에서도"):
            assert stem(noun + particle) == stem(noun), (noun, particle)


def test_the_search_index_holds_korean_words_without_particles(tmp_path):
    """A real Sphinx build in Korean: 기울기를 and 기울기는 are indexed as 기울기, in the page."""
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "language = 'ko'\nextensions = ['autograder.site.korean']\nhtml_theme = 'basic'\n", encoding="utf-8"
    )
    (src / "index.rst").write_text(
        "제목\n====\n\n손실의 기울기를 구합니다. 그 기울기는 upstream gradients와 곱합니다.\n",
        encoding="utf-8",
    )
    app = Sphinx(src, src, tmp_path / "out", tmp_path / "doctrees", "html", status=None, warning=None)
    app.build()
    text = (tmp_path / "out" / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(re.fullmatch(r"Search\.setIndex\((.*)\)", text.strip(), re.S).group(1))
    terms = index["terms"]
    assert "기울기" in terms and "기울기를" not in terms and "기울기는" not in terms, sorted(terms)
    assert {"손실", "구", "곱", "gradient"} <= set(terms), sorted(terms)
    # the browser gets the same stemmer: the Korean one, written from the same list of endings
    language_data = (tmp_path / "out" / "_static" / "language_data.js").read_text(encoding="utf-8")
    assert "var PorterStemmer = function()" in language_data
    assert json.dumps(list(ENDINGS), ensure_ascii=False) in language_data
