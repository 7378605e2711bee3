"""Matplotlib set up so that Korean labels render as real Hangul glyphs, on every machine.

The font is NanumGothic (SIL Open Font License), which comes from PyPI inside the ``koreanize-matplotlib``
wheel, a dependency of this package, so a student on Linux, macOS or Windows gets the same glyphs with
``pip install`` alone, no system font needed. That package's own ``import`` changes global settings and
needs ``distutils`` (gone in Python 3.12), so it is never imported: only its font file is used.

``use_korean_font()`` registers the font and puts it in matplotlib's family list after DejaVu Sans
(matplotlib's own font): Latin letters, digits, the minus sign − and ŷ come from DejaVu Sans as in any
matplotlib figure, and every Hangul syllable falls back, glyph by glyph, to NanumGothic. DejaVu first
also keeps mathtext right: tick labels such as 10⁻⁵ on a log axis are typeset with the first family.
Lectures call it once at the top; the figure build calls it before drawing, and SVGs store glyphs
as paths, so a figure looks the same on a machine without the font.

One limit of matplotlib: a label that contains ``$…$`` is typeset whole by mathtext, which does not fall
back between fonts, so Hangul must stay outside such labels: ``ax.set_title("손실 (loss)")`` next to a
separate ``ax.set_xlabel("$w$")``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib
from matplotlib import font_manager

KOREAN_FONT = "NanumGothic"
FALLBACK_FONT = "DejaVu Sans"
_FONT_PACKAGE = "koreanize_matplotlib"


class FontMissing(RuntimeError):
    """The Korean font file is not installed."""


def korean_font_path() -> Path:
    """Where NanumGothic.ttf is, found without importing the package that ships it."""
    spec = importlib.util.find_spec(_FONT_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "fonts" / f"{KOREAN_FONT}.ttf"
            if path.is_file():
                return path
    raise FontMissing(
        "한글 글꼴(NanumGothic)이 없습니다. `python -m pip install koreanize-matplotlib`로 설치하십시오. / "
        "The Korean font (NanumGothic) is missing: `python -m pip install koreanize-matplotlib`."
    )


def use_korean_font() -> str:
    """Register NanumGothic with matplotlib as the font for Hangul (after DejaVu Sans); return its name."""
    path = korean_font_path()
    known = {Path(entry.fname) for entry in font_manager.fontManager.ttflist}
    if path not in known:
        font_manager.fontManager.addfont(str(path))
    # An explicit list, not the generic "sans-serif": matplotlib falls back glyph by glyph only along it.
    matplotlib.rcParams["font.family"] = [FALLBACK_FONT, KOREAN_FONT]
    return KOREAN_FONT
