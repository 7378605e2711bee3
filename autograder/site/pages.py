"""A Sphinx extension of the course's site: the language switch on every page.

The Korean and the English site are two builds of the same page names, side by side (``ko/``, ``en/``),
so the twin of ``ko/unit01_computation_graphs.html`` is ``en/unit01_computation_graphs.html``; the link is
made relative, so the folder can be served from anywhere. The template ``lang-switch.html`` shows it in
the header of every page.
"""

from __future__ import annotations

OTHER = {"ko": "en", "en": "ko"}
LABEL = {"ko": "한국어", "en": "English"}
TITLE = {"ko": "이 페이지를 한국어로 읽기", "en": "Read this page in English"}


def switch_url(pagename: str, other: str) -> str:
    """From page ``pagename`` of one language's build to the same page of ``other``'s, beside it."""
    return "../" * (pagename.count("/") + 1) + f"{other}/{pagename}.html"


def _page_context(app, pagename, templatename, context, doctree):
    other = OTHER.get(app.config.language)
    if other:
        context["course_other_lang"] = other
        context["course_switch_url"] = switch_url(pagename, other)
        context["course_switch_label"] = LABEL[other]
        context["course_switch_title"] = TITLE[other]


def setup(app):
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
