"""Korean for Sphinx's full-text search: a ``SearchLanguage`` whose stemmer strips particles and endings.

Sphinx has no Korean search language, so a page of Korean prose would be indexed word by word as written:
``기울기를`` and ``기울기는`` would be two words, and neither would be found by a search for ``기울기``.
Korean attaches particles (조사) and endings (어미) to the word, so the stemmer strips them from the end,
again and again while one remains (``텐서에서도`` → ``텐서에서`` → ``텐서``), always keeping at least
one syllable. A word of Latin letters (``backward``, ``tensor를`` once its particle is gone) gets Sphinx's
English Porter stemmer, as English pages do.

The same rules run twice: in Python, when Sphinx builds the index (``stem``), and in the reader's browser,
on the words typed into the search box (``js_stemmer_code``, written from the same suffix list). Both must
agree; tests/test_site.py checks them on the same words.
"""

from __future__ import annotations

import json
import re

import snowballstemmer
from sphinx.search import SearchLanguage
from sphinx.search.en import english_stopwords, js_porter_stemmer

# Particles, then the endings of 이다/하다/되다 the lectures' prose uses; compounds such as 에서는 need no
# entry of their own (는, then 에서). Tried longest first (sorted below): 이라는 goes whole, not as 는 and
# then 이라.
ENDINGS = (
    # 이다, 하다, 되다 (합니다체 and the forms inside a sentence)
    "했습니다",
    "됩니다",
    "합니다",
    "입니다",
    "이라는",
    "이라고",
    "였습니다",
    "하려면",
    "하므로",
    "해야",
    "하는",
    "하고",
    "하면",
    "하여",
    "해서",
    "하기",
    "하지",
    "되는",
    "되고",
    "되면",
    "이고",
    "이지만",
    "이므로",
    "인데",
    "인지",
    "이며",
    "이다",
    "이면",
    "라는",
    "라고",
    # particles (조사), and 들 of the plural (기울기들)
    "들",
    "에서",
    "에게",
    "으로",
    "까지",
    "부터",
    "처럼",
    "보다",
    "마다",
    "만큼",
    "이나",
    "조차",
    "밖에",
    "이란",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
    "나",
    "란",
    "된",
    "함",
)
ENDINGS = tuple(sorted(set(ENDINGS), key=len, reverse=True))
LATIN = re.compile(r"[a-z]+")


def strip_endings(word: str) -> str:
    """``word`` without the particles and endings at its end, keeping at least one syllable."""
    stripped = True
    while stripped:
        stripped = False
        for ending in ENDINGS:
            if len(word) > len(ending) and word.endswith(ending):
                word = word[: -len(ending)]
                stripped = True
                break
    return word


_porter = snowballstemmer.stemmer("porter")


def stem(word: str) -> str:
    """The index form of ``word``: lower case, Korean endings stripped, then English stemming for Latin."""
    word = strip_endings(word.lower())
    return _porter.stemWord(word) if LATIN.fullmatch(word) else word


# The browser's half: Sphinx's Porter stemmer renamed, then the same stripping from the same list.
JS_STEMMER = (
    js_porter_stemmer.replace("var Stemmer = function()", "var PorterStemmer = function()", 1)
    + """
/**
 * Korean stemmer (autograder/site/korean.py): strips particles and endings, then stems Latin words.
 */
var Stemmer = function() {
  var porter = new PorterStemmer();
  var endings = ENDINGS_JSON;
  this.stemWord = function(w) {
    w = w.toLowerCase();
    var stripped = true;
    while (stripped) {
      stripped = false;
      for (var i = 0; i < endings.length; i++) {
        var e = endings[i];
        if (w.length > e.length && w.endsWith(e)) {
          w = w.slice(0, w.length - e.length);
          stripped = true;
          break;
        }
      }
    }
    return /^[a-z]+$/.test(w) ? porter.stemWord(w) : w;
  };
};
""".replace("ENDINGS_JSON", json.dumps(list(ENDINGS), ensure_ascii=False))
)
assert "var PorterStemmer = function()" in JS_STEMMER, "Sphinx's Porter stemmer changed its name"


class SearchKorean(SearchLanguage):
    lang = "ko"
    language_name = "Korean"
    js_stemmer_code = JS_STEMMER
    # English words are common in the lectures (code, terms in parentheses); a particle alone (the 를 of
    # ``backward()를``, split off by the parentheses) is no word to look for
    stopwords = english_stopwords | {ending for ending in ENDINGS if len(ending) == 1}

    def stem(self, word: str) -> str:
        return stem(word)

    def word_filter(self, word: str) -> bool:
        return bool(word) and word not in self.stopwords


def setup(app):
    app.add_search_language(SearchKorean)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
