"""Korean register and particle spacing in every bilingual lecture, assignment source and message, the
README and the reasons of the deliberate grading differences.

Two rules of the course's style (see the common brief):

- **합니다체 only.** A sentence ends in "…합니다." / "…입니다.", never in the plain 한다체 ("…한다.",
  "…이다.", "…된다.", "…있다.", "…하자."). A 합니다체 ending has 니 before its final 다; any other syllable
  before a sentence-final 다 is 한다체. Nor in 해요체: an instruction is "…하십시오", not "…하세요", and a
  question "…합니까?", not "…할까요?" or "…했나요?".
- **No space between code and a particle.** "`backward()`를", ".grad에", "{name}을(를)", not
  "`backward()` 를": a particle is part of the word it follows.

Korean is checked where it occurs: lines with Hangul in every cell of the lectures' and assignments'
sources (prose, docstrings, test messages), the ``ko`` texts of messages.toml and mistakes.toml, the
README's Korean lines, and the ``ko`` reasons of tests/compat/differences.toml.
Code blocks (``` fenced ```) in prose are skipped: their Korean is a comment in code, not prose.
"""

from __future__ import annotations

import re
import tomllib

import nbformat
import pytest

from autograder.course import Course

COURSE = Course.find()
NOTEBOOKS = COURSE.lecture_notebooks() + sorted(COURSE.source.glob("*/*.ipynb"))
CATALOGUES = [COURSE.root / "autograder" / "messages.toml", COURSE.root / "autograder" / "mistakes.toml"]
DIFFERENCES = COURSE.root / "tests" / "compat" / "differences.toml"

HANGUL = "\uac00-\ud7a3"
# 한다체: a Hangul syllable other than 니 (합니다) or 시 (봅시다) before a final 다, at the end of a
# sentence or a line; and the plain proposals 하자 / 보자. Words like 바다 are rare enough to be
# rewritten if they ever end a sentence.
PLAIN_ENDING = re.compile(rf"[{HANGUL}](?<![니시])다(?=[.!?]|\s*$)|(?:하|보)자(?=[.!?]|\s*$)", re.M)
# 해요체: an instruction in -(으)세요 (합니다체 says -(으)십시오) and a question in -까요/-나요
# (합니다체: -ㅂ니까), wherever the word ends.
POLITE_INFORMAL = re.compile(rf"[{HANGUL}]+(?:세요|[까나]요)(?![{HANGUL}])")
# A particle written apart from the code before it. The code is a `span`, a {placeholder}, a call's
# closing parenthesis or bracket, or an ASCII identifier/number (with ², ′ or a dot path); the particle
# stands alone, followed by a space, punctuation or the end.
PARTICLES = "|".join(
    re.escape(p)
    for p in sorted(
        "이(가) 을(를) 은(는) 와(과) (으)로 이 가 을 를 은 는 의 에 에서 에는 에도 "
        "와 과 로 으로 으로는 로는 만 도 까지 부터 처럼 보다 이나 나 "
        "이고 이며 이면 입니다 이라는 라는 이라고 라고 에게".split(),
        key=len,
        reverse=True,
    )
)
CODE_BEFORE = r"(?:`[^`\n]+`|'[^'\n]+'|\{[^{}\n]*\}|[A-Za-z0-9_²′)\]/])"
SPACED_PARTICLE = re.compile(rf"{CODE_BEFORE}[ \t]+(?:{PARTICLES})(?=[\s.,;:!?)]|$)", re.M)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def korean_lines(text: str) -> list[str]:
    text = FENCE.sub("", text)
    return [line for line in text.splitlines() if re.search(f"[{HANGUL}]", line)]


def problems(text: str) -> list[str]:
    """Every 한다체 ending and every spaced particle in ``text``, each with its line."""
    found = []
    for line in korean_lines(text):
        for match in PLAIN_ENDING.finditer(line):
            found.append(f"한다체 '{match.group()}': {line.strip()[:160]}")
        for match in POLITE_INFORMAL.finditer(line):
            found.append(f"해요체 '{match.group()}': {line.strip()[:160]}")
        for match in SPACED_PARTICLE.finditer(line):
            found.append(f"space before a particle '{match.group()}': {line.strip()[:160]}")
    return found


def notebook_texts(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells]


def catalogue_texts(path) -> list[str]:
    entries = tomllib.loads(path.read_text(encoding="utf-8"))
    return [entry["ko"] for entry in entries.values() if isinstance(entry, dict) and "ko" in entry]


def ids(paths):
    return [p.relative_to(COURSE.root).as_posix() for p in paths]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_korean_is_polite_and_attaches_particles(path):
    found = [p for text in notebook_texts(path) for p in problems(text)]
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


@pytest.mark.parametrize("path", CATALOGUES, ids=ids(CATALOGUES))
def test_message_korean_is_polite_and_attaches_particles(path):
    found = [p for text in catalogue_texts(path) for p in problems(text)]
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def test_readme_korean_is_polite_and_attaches_particles():
    found = problems((COURSE.root / "README.md").read_text(encoding="utf-8"))
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def test_difference_reasons_are_polite_and_attach_particles():
    entries = tomllib.loads(DIFFERENCES.read_text(encoding="utf-8"))["difference"]
    found = [p for entry in entries for p in problems(entry["ko"])]
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


# ------------------------------------------------------------------------- the rules themselves


@pytest.mark.parametrize(
    "bad",
    [
        "역전파로 모든 노드의 기울기를 구한다.",
        "이것이 연쇄 법칙이다.",
        "결과는 `.grad`에 저장된다.",
        "기울기가 남아 있다.",
        "손으로 구한 값은 자동 미분으로 확인하자.",
        "- 덧셈 게이트는 상류 기울기를 그대로 전달한다",
        "## 5. 분기에서는 기울기를 더한다",
        "`backward()` 를 호출합니다.",
        "`x.grad` 에 더해집니다.",
        "✘ {name} 을(를) 정의하는 셀을 찾지 못했습니다.",
        "{path} 와 그 위 폴더에서 찾지 못했습니다.",
        "backward() 를 두 번 호출했습니다.",
        "상수 2 를 빠뜨렸습니다.",
        "x² 의 도함수는 2x 입니다.",
        "True 또는 False 로 답하세요.",
        "`backward()`를 완성하세요.",
        "언제 직접 쓸까요?",
        "return을 빠뜨리지 않았나요?",
    ],
)
def test_the_rules_catch_a_planted_mistake(bad):
    assert problems(bad), bad


@pytest.mark.parametrize(
    "good",
    [
        "역전파로 모든 노드의 기울기를 구합니다.",
        "이것이 연쇄 법칙입니다.",
        "결과는 `.grad`에 저장됩니다.",
        "`backward()`를 호출하면 `x.grad`에 더해집니다.",
        "✘ {name}을(를) 정의하는 셀을 찾지 못했습니다.",
        "x²의 미분값은 2x입니다.",
        "True 또는 False로 답하십시오.",
        "`torch.tensor([2, 3])`처럼 정수만 넣으면 정수 텐서가 만들어집니다.",
        "값이 1 이상인 원소는 3 개입니다.",  # 이상 and 개 are not particles
        "$x = 3$, $y = -2$이면 순전파 값은 $q = -6$입니다.",
        "입력 노드는 $x$, $w$, $y$ 세 개입니다.",
        "```python\nx = 1  # 값을 바꾼다.\n```",  # a comment inside a code block is not prose
        "PyTorch 0.4(2018년) 이전에는 텐서가 기울기를 가질 수 없었습니다.",
        "A를 보다 자세히 봅니다.",
    ],
)
def test_the_rules_pass_legitimate_text(good):
    assert problems(good) == [], problems(good)
