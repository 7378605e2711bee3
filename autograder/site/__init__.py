"""The course on the web: one static site, Korean and English, built from the same sources.

``build_site(course, out)`` writes

- ``out/ko/`` and ``out/en/``: one Sphinx build per language (sphinx-book-theme, myst-nb), the same page
  names in both, so every page links to its twin (``pages.py``); an index per language with the units,
  every lecture with its executed outputs and figures, search (Korean particles stripped: ``korean.py``),
  and the student versions of the assignments to download;
- ``out/index.html``: the choice of language; ``out/.nojekyll``, so GitHub Pages serves ``_static/``.

It is plain files: any static host serves the folder. Nothing is fetched while building or reading: the
theme comes with its package, math is rendered by the MathJax that ``django-static-mathjax`` ships,
copied into ``_static/``.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from ..bilingual import LANGS, monolingual
from ..build import stamped
from ..course import Course
from .config import MATHJAX, TITLE
from .execute import executed_lecture, executed_lectures

INTRO = {
    "ko": (
        "한국어와 영어로 된 공개 강좌입니다. 강의마다 코드를 실행한 결과와 그림이 함께 있습니다. "
        "과제는 학생용 노트북으로 내려받아 JupyterLab에서 풉니다."
    ),
    "en": (
        "An open course in Korean and English. Every lecture is shown with the outputs and figures of "
        "its code, run. The assignments are notebooks to download and solve in JupyterLab."
    ),
}
HEADINGS = {
    "ko": {"lectures": "강의", "assignments": "과제 내려받기", "both": "두 언어판"},
    "en": {"lectures": "Lectures", "assignments": "Download the assignments", "both": "bilingual"},
}
ASSIGNMENT_NOTE = {
    "ko": (
        "과제 파일은 `course start <과제> --lang ko`가 만드는 학생용 노트북과 같습니다. 답과 숨겨진 테스트는 "
        "들어 있지 않습니다. 채점기(`autograder` 패키지)가 설치된 곳에서 실행하십시오."
    ),
    "en": (
        "Each file is the student version that `course start <assignment> --lang en` makes, without "
        "answers or hidden tests. Run it where the course's checker (the `autograder` package) is installed."
    ),
}


def mathjax_file() -> Path:
    import mathjax as package  # django-static-mathjax: MathJax 3 as plain files

    return Path(package.__file__).parent / "static" / "mathjax" / "es5" / Path(MATHJAX).name


def unit_title(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError("a lecture without a title (a '# ' heading)")


def student_version(course: Course, assignment: str, name: str, lang: str) -> nbformat.NotebookNode:
    """What ``course start <assignment> --lang <lang>`` hands a student: the committed release filtered
    to one language (a grade cell holds no language, so the cells are those of a one-language release),
    or the bilingual release itself for ``both``."""
    nb = nbformat.read(course.release / assignment / name, as_version=4)
    if lang != "both":
        nb = monolingual(nb, lang, f"release/{assignment}/{name}")
    nb.metadata["course"] = {"lang": lang} if lang != "both" else {}
    return stamped(nb)


def _index(lang: str, lectures: list[tuple[str, str]], downloads: list[tuple[str, str, str]]) -> str:
    words = HEADINGS[lang]
    lines = [f"# {TITLE[lang]}", "", INTRO[lang], "", f"## {words['lectures']}", "", "```{toctree}"]
    lines += [":maxdepth: 1", "", *[stem for stem, _ in lectures], "```", ""]
    lines += [f"## {words['assignments']}", "", ASSIGNMENT_NOTE[lang], ""]
    for title, mine, both in downloads:
        lines.append(
            f"- {title}: {{download}}`{Path(mine).name} <{mine}>` · {{download}}`{words['both']} <{both}>`"
        )
    return "\n".join(lines) + "\n"


def _write_sources(course: Course, src: Path, lang: str, executed: dict) -> None:
    lectures, downloads = [], []
    for name, ran in executed.items():
        nb = executed_lecture(course, lang, name, ran)
        nbformat.write(nb, src / name)
        lectures.append((Path(name).stem, unit_title(nb)))
    for assignment in course.assignments():
        for path in sorted((course.release / assignment).glob("*.ipynb")):
            mine = f"downloads/{assignment}_{path.stem}_{lang}.ipynb"
            both = f"downloads/{assignment}_{path.stem}.ipynb"
            (src / "downloads").mkdir(exist_ok=True)
            nbformat.write(student_version(course, assignment, path.name, lang), src / mine)
            nbformat.write(student_version(course, assignment, path.name, "both"), src / both)
            unit = assignment.removeprefix("unit").lstrip("0")
            title = f"{unit}강 과제" if lang == "ko" else f"Unit {unit} assignment"
            downloads.append((f"{title} ({path.name})", mine, both))
    (src / "index.md").write_text(_index(lang, lectures, downloads), encoding="utf-8")
    (src / "conf.py").write_text(
        "# written by `course site` (autograder/site); the settings are in autograder/site/config.py\n"
        "from autograder.site.config import settings\n\n"
        f"globals().update(settings({lang!r}, {str(src.parent / 'static')!r}))\n",
        encoding="utf-8",
    )


LANDING = """<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{ko} · {en}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; }}
a {{ display: block; font-size: 1.25rem; margin: 1rem 0; }}
</style>
</head>
<body>
<h1>{ko}<br><span lang="en">{en}</span></h1>
<a href="ko/index.html" hreflang="ko">한국어로 읽기</a>
<a href="en/index.html" hreflang="en" lang="en">Read in English</a>
</body>
</html>
"""


def _sphinx(src: Path, out: Path, doctrees: Path, warnings: io.StringIO, status) -> None:
    from sphinx import locale
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    # Sphinx keeps the message catalogues it loaded for the process: without this, the English build
    # would keep the Korean build's labels (검색, 내용)
    locale.translators.clear()
    with patch_docutils(src), docutils_namespace():
        app = Sphinx(src, src, out, doctrees, "html", status=status, warning=warnings, freshenv=True)
        app.build(force_all=True)


def build_site(
    course: Course,
    out: Path,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> list[str]:
    """Build the site into ``out`` (emptied first); returns Sphinx's warnings (none when all is well).
    ``cache``: where executed lectures are kept between builds (``execute.py``)."""
    executed = executed_lectures(course, cache=cache, progress=progress)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    warnings = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        tmp = Path(tmp)
        # lectures link their figures as ../../img/… (from notebooks/<lang>/); the sources sit in
        # <tmp>/site/<lang>/, so that is <tmp>/img
        shutil.copytree(course.img, tmp / "img", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        static = tmp / "site" / "static"
        (static / Path(MATHJAX).parent).mkdir(parents=True)
        shutil.copy(mathjax_file(), static / MATHJAX)
        shutil.copy(mathjax_file().parent.parent / "LICENSE", static / Path(MATHJAX).parent / "LICENSE")
        for lang in LANGS:
            if progress:
                progress(f"{lang}/ (Sphinx)")
            src = tmp / "site" / lang
            src.mkdir(parents=True)
            _write_sources(course, src, lang, executed)
            # myst-nb writes its scratch files beside the output folder (jupyter_execute/), so Sphinx
            # writes into <tmp>/html/<lang>/ and the finished pages are copied to the site
            html = tmp / "html" / lang
            _sphinx(src, html, tmp / "doctrees" / lang, warnings, sys.stderr if verbose else None)
            shutil.copytree(html, out / lang, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    (out / "index.html").write_text(LANDING.format(**TITLE), encoding="utf-8")
    (out / ".nojekyll").write_text("")
    return [line for line in warnings.getvalue().splitlines() if line.strip()]
