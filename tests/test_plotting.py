"""Korean labels in figures render as real Hangul glyphs, with no missing-glyph warning."""

import io
import logging
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from autograder.plotting import KOREAN_FONT, korean_font_path, use_korean_font  # noqa: E402

LABEL = "손실(loss) −1.5, ŷ, 학습률 0.01, 에포크"


@pytest.fixture()
def korean():
    with matplotlib.rc_context():
        use_korean_font()
        yield


def pixels(text: str) -> np.ndarray:
    fig = plt.figure(figsize=(1.2, 0.6), dpi=100)
    fig.text(0.1, 0.3, text, fontsize=20)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def test_the_font_file_is_installed_and_is_nanum_gothic():
    path = korean_font_path()
    assert path.is_file()
    assert font_manager.FontProperties(fname=path).get_name() == KOREAN_FONT


def test_hangul_falls_back_to_nanum_gothic(korean):
    """DejaVu Sans first (digits, −, math), NanumGothic for what DejaVu lacks: every Hangul syllable."""
    assert matplotlib.rcParams["font.family"][-1] == KOREAN_FONT
    first = font_manager.findfont(FontProperties(family=matplotlib.rcParams["font.family"][0]))
    assert 0xAC00 not in font_manager.get_font(first).get_charmap(), "the first font would draw Hangul itself"
    assert {0xAC00, 0xD7A3} <= set(font_manager.get_font(str(korean_font_path())).get_charmap())


def test_log_axis_ticks_keep_their_minus_sign(korean, caplog):
    fig, ax = plt.subplots()
    ax.semilogy([1, 2, 3], [1e-5, 1e-3, 1e-1])
    ax.set_title("학습률 (learning rate)")
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "glyph" in m.lower()], messages


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_no_missing_glyph_warning(korean, fmt, caplog):
    fig, ax = plt.subplots()
    ax.plot([-2, -1, 0], [1.0, -0.5, 0.25])
    ax.set_title(LABEL)
    ax.set_xlabel("에포크(epoch)")
    ax.set_ylabel("기울기(gradient) ∂loss/∂w")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format=fmt)
    plt.close(fig)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "glyph" in m.lower()], messages


def test_hangul_syllables_are_real_glyphs_not_boxes(korean):
    """A missing glyph is drawn as the same empty box for every character; real glyphs differ."""
    ga, na, hih = pixels("가"), pixels("나"), pixels("힣")
    blank = pixels("")
    for glyph in (ga, na, hih):
        assert (glyph != blank).any(), "nothing was drawn"
    assert (ga != na).any() and (na != hih).any() and (ga != hih).any()


def test_without_the_korean_font_hangul_would_be_boxes():
    """The check above can fail: with matplotlib's default font alone, Hangul becomes identical boxes."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (pixels("가") == pixels("나")).all()
