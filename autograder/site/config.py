"""The Sphinx settings of the course's site, one language per build (read by the ``conf.py`` that
``autograder.site.build`` writes into each build's source folder)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"  # the switch's style and the icon; MathJax is copied in by the build
TITLE = {
    "ko": "계산 그래프, 연쇄 법칙, PyTorch autograd",
    "en": "Computation graphs, the chain rule and PyTorch autograd",
}
MATHJAX = "mathjax/tex-svg-full.js"  # under _static/: TeX in, SVG out, every extension, no font files


def settings(lang: str, static: str) -> dict:
    """``static``: the folder copied into ``_static/`` (MathJax)."""
    extensions = ["myst_nb", "autograder.site.pages"]
    if lang == "ko":
        extensions.append("autograder.site.korean")  # Sphinx has no Korean search language of its own
    return {
        "project": TITLE[lang],
        "html_title": TITLE[lang],
        "language": lang,
        "extensions": extensions,
        "root_doc": "index",
        "exclude_patterns": ["downloads/**"],
        "templates_path": [str(TEMPLATES)],
        "html_static_path": [str(STATIC), static],
        "html_css_files": ["course-site.css"],
        "html_favicon": str(STATIC / "favicon.svg"),
        # the theme's light mode from the first visit (else pydata-sphinx-theme logs an error for the
        # mode it has not stored yet)
        "html_context": {"default_mode": "light"},
        "html_theme": "sphinx_book_theme",
        "html_theme_options": {
            "article_header_end": ["lang-switch.html", "article-header-buttons.html"],
            "home_page_in_toc": True,
            "navbar_persistent": [],  # the search is in the sidebar and the header's buttons
            "show_navbar_depth": 1,
            "use_download_button": True,
            "use_fullscreen_button": False,
        },
        "html_last_updated_fmt": None,
        "html_copy_source": True,  # the download button hands out the lecture as a notebook
        # math from the vendored copy in _static/, never a CDN
        "mathjax_path": MATHJAX,
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "myst_heading_anchors": 3,
        # the lectures arrive executed (autograder/site/execute.py): myst-nb only renders them
        "nb_execution_mode": "off",
        "nb_ipywidgets_js": {},  # no require.js or widget manager from a CDN
        # so a widget's output shows its static fallback (Graph.watch()'s strip of frames, as HTML)
        "nb_mime_priority_overrides": [("*", "application/vnd.jupyter.widget-view+json", None)],
        "nb_merge_streams": True,
    }
