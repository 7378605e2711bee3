"""The course on the web (`course site`, autograder/site/): the site is built once per run, then read.

The lectures it shows are the runs tests/test_notebooks.py judges (the ``lecture_cache`` of
tests/conftest.py), so the suite executes each lecture once. The checks read the built files: every
lecture in Korean and in English with its printed numbers and figures, a language switch on every page
that lands on the twin page, navigation that resolves, math from the vendored MathJax, the student
versions of the assignments without answers, and nothing fetched from outside the site. A browser test
serves the folder on 127.0.0.1, switches language, searches Korean and finds every image loaded.
"""

from __future__ import annotations

import base64
import filecmp
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import nbformat
import pytest
from bs4 import BeautifulSoup

from autograder.build import build_release
from autograder.course import Course, CourseError
from autograder.site import build_site, mathjax_file
from autograder.site.config import MATHJAX
from autograder.site.execute import executed_lectures
from autograder.site.korean import stem
from tests.conftest import ROOT
from tests.test_notebooks import COURSE, SEED_NUMBERS

pytestmark = pytest.mark.notebook

LANGS = ("ko", "en")
LECTURES = [path.name for path in COURSE.lecture_notebooks()]
PAGES = [(lang, name) for name in LECTURES for lang in LANGS]
ARTIFACTS = ROOT / "test-artifacts" / "site"
SCREENSHOTS = ROOT / "docs" / "screenshots"
INLINE_PNG = "data:image/png;base64,"
WIDGET = "application/vnd.jupyter.widget-view+json"
EXTERNAL = re.compile(r"^(https?:)?//", re.I)


@dataclass
class Site:
    out: Path
    warnings: list[str]
    seconds: float

    def page(self, rel: str) -> BeautifulSoup:
        return BeautifulSoup((self.out / rel).read_text(encoding="utf-8"), "html.parser")

    def html_files(self, lang: str | None = None) -> list[Path]:
        """The site's pages (of ``lang``), not the theme's fragments in ``_static/``."""
        root = self.out / lang if lang else self.out
        return sorted(
            p for p in root.rglob("*.html") if not any(x.startswith("_") for x in p.relative_to(root).parts)
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory, lecture_cache) -> Site:
    out = tmp_path_factory.mktemp("site") / "_site"
    start = time.monotonic()
    warnings = build_site(COURSE, out, cache=lecture_cache)
    return Site(out, warnings, time.monotonic() - start)


def page_text(soup: BeautifulSoup, selector: str) -> str:
    return "\n".join(node.get_text() for node in soup.select(selector))


def resolve(site: Site, page: Path, href: str) -> Path:
    """The file a relative link on ``page`` points to (fragment and query dropped)."""
    target = unquote(urlparse(href).path)
    return (page.parent / target).resolve() if target else page.resolve()


def test_the_build_gives_no_warnings(site):
    assert not site.warnings, "\n".join(site.warnings)


@pytest.mark.parametrize(("lang", "name"), PAGES, ids=[f"{lang}/{name}" for lang, name in PAGES])
def test_every_lecture_is_a_page_with_its_outputs(site, lang, name):
    soup = site.page(f"{lang}/{Path(name).stem}.html")
    assert soup.html["lang"] == lang
    outputs = page_text(soup, ".cell_output")
    missing = [label for label, pattern in SEED_NUMBERS[name].items() if not re.search(pattern, outputs)]
    assert not missing, f"{lang}/{name}: the page does not show {missing}"


def shown_images(data: dict) -> int:
    """How many images an output puts on its page: a widget (Graph.watch()) shows its static strip, one
    image per frame (the site has no widget manager); any other output its PNG, if it has one."""
    if WIDGET in data:
        return data["text/html"].count("<img ")
    return int("image/png" in data)


@pytest.mark.parametrize(("lang", "name"), PAGES, ids=[f"{lang}/{name}" for lang, name in PAGES])
def test_every_figure_of_a_lecture_is_on_its_page(site, lecture_cache, lang, name):
    """Each figure the lecture draws when run is an <img> in its output; each figure of its prose one in
    the text; every image file is there."""
    page = site.out / lang / f"{Path(name).stem}.html"
    soup = site.page(page.relative_to(site.out).as_posix())
    ran = executed_lectures(COURSE, [name], lecture_cache)[name]
    drawn = sum(shown_images(out.get("data", {})) for cell in ran.cells for out in cell.get("outputs", []))
    assert len(soup.select(".cell_output img")) == drawn, f"{lang}/{name}: {drawn} figures drawn"
    lecture = nbformat.read(COURSE.lectures(lang) / name, as_version=4)
    linked = sum(
        len(re.findall(r"!\[[^\]]*\]\(", c.source)) for c in lecture.cells if c.cell_type == "markdown"
    )
    assert len(soup.select("article img")) == drawn + linked
    for img in soup.select("img"):
        if img["src"].startswith(INLINE_PNG):  # a frame of Graph.watch()'s strip, inside the page
            assert base64.b64decode(img["src"][len(INLINE_PNG) :]).startswith(b"\x89PNG"), f"{lang}/{name}"
            continue
        assert resolve(site, page, img["src"]).is_file(), f"{lang}/{name}: missing image {img['src']}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_switches_language_to_its_twin(site, lang):
    other = {"ko": "en", "en": "ko"}[lang]
    pages = site.html_files(lang)
    assert len(pages) >= len(LECTURES) + 1
    for page in pages:
        links = site.page(page.relative_to(site.out).as_posix()).select("a.course-lang-switch")
        assert len(links) == 1, f"{page}: {len(links)} language switches"
        twin = resolve(site, page, links[0]["href"])
        assert twin == (site.out / other / page.relative_to(site.out / lang)).resolve(), page
        assert twin.is_file(), f"{page}: the switch leads to a missing page"
        assert BeautifulSoup(twin.read_text(encoding="utf-8"), "html.parser").html["lang"] == other


@pytest.mark.parametrize("lang", LANGS)
def test_navigation_reaches_every_unit_and_every_link_resolves(site, lang):
    expected = [f"{Path(name).stem}.html" for name in LECTURES]
    for page in site.html_files(lang):
        soup = site.page(page.relative_to(site.out).as_posix())
        nav = [resolve(site, page, a["href"]).name for a in soup.select("nav.bd-docs-nav a.reference")]
        assert [n for n in nav if n.startswith("unit")] == expected, f"{page}: the sidebar lists {nav}"
        for a in soup.select("a[href]"):
            href = a["href"]
            if EXTERNAL.match(href) or href.startswith(("mailto:", "#", "javascript:")):
                continue
            assert resolve(site, page, href).exists(), f"{page}: broken link {href}"
    # prev/next across the units, in order
    for before, after in zip(expected, expected[1:], strict=False):
        soup = site.page(f"{lang}/{before}")
        nexts = [resolve(site, site.out / lang / before, a["href"]).name for a in soup.select("a.right-next")]
        assert nexts == [after], f"{lang}/{before}: next is {nexts}"


def test_math_is_rendered_by_the_vendored_mathjax(site):
    vendored = site.out / "ko" / "_static" / MATHJAX
    assert filecmp.cmp(vendored, mathjax_file(), shallow=False)
    pages_with_math = 0
    for page in site.html_files():
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        scripts = [s["src"] for s in soup.select("script[src]") if "mathjax" in s["src"].lower()]
        if soup.select(".math"):
            pages_with_math += 1
            assert len(scripts) == 1, f"{page}: MathJax scripts {scripts}"
            src = resolve(site, page, scripts[0])
            assert src.is_file() and src.name == Path(MATHJAX).name, f"{page}: MathJax from {scripts[0]}"
    assert pages_with_math >= len(LECTURES) * 2 - 2, "math is missing from the lectures"


def test_nothing_is_fetched_from_outside_the_site(site):
    """Scripts, styles, images, fonts, frames: all from the folder (a link in the prose may lead out)."""
    outside = []
    for page in site.html_files():
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(["script", "img", "iframe", "source", "video", "audio", "embed"], src=True):
            if EXTERNAL.match(tag["src"]):
                outside.append(f"{page.relative_to(site.out)}: <{tag.name} src={tag['src']}>")
        for tag in soup.find_all("link", href=True):
            if EXTERNAL.match(tag["href"]) and set(tag.get("rel", [])) & {"stylesheet", "preload", "icon"}:
                outside.append(f"{page.relative_to(site.out)}: <link href={tag['href']}>")
    for sheet in site.out.rglob("*.css"):
        for url in re.findall(
            r"url\(\s*['\"]?([^'\")]+)", sheet.read_text(encoding="utf-8", errors="replace")
        ):
            if EXTERNAL.match(url):
                outside.append(f"{sheet.relative_to(site.out)}: url({url})")
    assert not outside, "\n".join(outside)


SECRET = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def secrets(assignment: str) -> set[str]:
    """Lines of a source's solutions and hidden tests that appear nowhere else in it (a line the student
    is also shown, such as a call of the visible test, is no secret)."""
    secret, shown = set(), set()
    for path in sorted((COURSE.source / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for _, block in SECRET.findall(cell.source):
                secret |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
            shown |= {line.strip() for line in SECRET.sub("", cell.source).splitlines()}
    return secret - shown


@pytest.mark.parametrize("lang", LANGS)
def test_assignments_download_as_student_versions(site, lang):
    index = site.out / lang / "index.html"
    links = [a["href"] for a in site.page(f"{lang}/index.html").select("a.download[href]")]
    assignments = COURSE.assignments()
    assert len(links) == 2 * len(assignments), links  # one in the page's language, one bilingual
    for assignment in assignments:
        mine = [h for h in links if Path(h).name == f"{assignment}_exercises_{lang}.ipynb"]
        both = [h for h in links if Path(h).name == f"{assignment}_exercises.ipynb"]
        assert len(mine) == 1 and len(both) == 1, (assignment, links)
        for href, expected_lang in ((mine[0], lang), (both[0], None)):
            path = resolve(site, index, href)
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
            text = path.read_text(encoding="utf-8")
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN" not in text, path
            lines = {line.strip() for cell in nb.cells for line in cell.source.splitlines()}
            leaked = sorted(secrets(assignment) & lines)
            assert not leaked, f"{path.name} gives away {leaked[:3]}"
            tags = {tag for cell in nb.cells for tag in cell.metadata.get("tags", [])}
            if expected_lang:
                assert nb.metadata["course"]["lang"] == lang
                assert f"lang-{lang}" in tags and f"lang-{'en' if lang == 'ko' else 'ko'}" not in tags
            else:
                assert {"lang-ko", "lang-en"} <= tags


@pytest.mark.parametrize("lang", LANGS)
def test_a_download_is_what_course_start_hands_a_student(site, tmp_path, lang):
    """The site's file is, byte for byte, the notebook `course start unit01 --lang <lang>` copies."""
    started = build_release(COURSE, "unit01", tmp_path, lang) / "exercises.ipynb"
    downloads = {p.name: p for p in (site.out / lang / "_downloads").rglob("*.ipynb")}
    assert started.read_bytes() == downloads[f"unit01_exercises_{lang}.ipynb"].read_bytes()


def test_the_korean_search_index_has_words_without_particles(site):
    text = (site.out / "ko" / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(re.fullmatch(r"Search\.setIndex\((.*)\)", text.strip(), re.S).group(1))
    words = set(index["terms"]) | set(index["titleterms"])
    assert "기울기" in words and not {"기울기를", "기울기는", "기울기들"} & words
    found = set()
    for table in ("terms", "titleterms"):  # a word in a heading is indexed as a title word
        docs = index[table].get("기울기", [])
        found |= {index["docnames"][i] for i in (docs if isinstance(docs, list) else [docs])}
    assert {Path(name).stem for name in LECTURES} <= found, found


def test_a_lecture_that_fails_stops_the_build_with_a_clear_message(tmp_path):
    """No site with a broken lecture: the message names the lecture and the error, in both languages."""
    course = Course(tmp_path)
    (tmp_path / "notebooks" / "ko").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "ko" / "unit09_broken.ipynb")
    with pytest.raises(CourseError) as raised:
        executed_lectures(course, ["unit09_broken.ipynb"])
    message = str(raised.value)
    assert "notebooks/ko/unit09_broken.ipynb" in message and "ZeroDivisionError" in message, message
    assert (
        "실행하다가 오류가 났습니다" in message
        and "running notebooks/ko/unit09_broken.ipynb failed" in message
    )


# ---------------------------------------------------------------------------------------- in a browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(site) -> Iterator[str]:
    """The site's folder on 127.0.0.1, as any static host serves it."""
    handler = functools.partial(QuietHandler, directory=str(site.out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from tests.test_browser import start_chromium

    driver = start_chromium(tmp_path_factory.mktemp("chromium-site"))
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    shot(driver, f"FAILED-{what.replace(' ', '-')}")
    pytest.fail(f"the browser did not show {what} within {seconds} s")


def shot(driver, name: str, readme: str | None = None) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    if readme and os.environ.get("COURSE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / readme)


def images_loaded(driver) -> list[str]:
    """The images of the page that did not load (none when all did): each one scrolled to first."""
    return driver.execute_script(
        """
        const images = [...document.images];
        images.forEach((img) => img.scrollIntoView());
        return images.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src);
        """
    )


def search(driver, base: str, lang: str, query: str) -> list[str]:
    """Type ``query`` into the search page's box, submit, and return the pages found (file names)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(urljoin(base, f"{lang}/search.html"))
    box = wait(
        driver, lambda: driver.find_elements(By.CSS_SELECTOR, "form.bd-search input[name=q]"), "search"
    )
    box[-1].clear()
    box[-1].send_keys(query, Keys.ENTER)
    wait(driver, lambda: "q=" in driver.current_url, "the query submitted")
    status = "#search-results .search-summary, #search-results p"
    wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, status), f"the results for {query}")
    wait(
        driver,
        lambda: driver.execute_script("return !document.querySelector('#search-progress')?.textContent"),
        f"the search for {query} to finish",
    )
    links = driver.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")
    return sorted({Path(urlparse(a.get_attribute("href")).path).name for a in links})


@pytest.mark.browser
def test_in_a_browser_switch_language_search_korean_see_every_image(site, served, browser):
    from selenium.webdriver.common.by import By

    driver = browser
    page = "unit01_computation_graphs.html"
    driver.get(urljoin(served, f"ko/{page}"))
    wait(driver, lambda: driver.execute_script("return document.readyState") == "complete", "the page")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    # math typeset by the vendored MathJax (its SVG output), every image loaded
    wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "mjx-container svg"), "math typeset")
    assert not images_loaded(driver), "images that did not load"
    driver.execute_script("window.scrollTo(0, 0)")
    shot(driver, "site-ko-unit01", readme="site-ko.png")

    # the switch: the same page in English, and back
    driver.find_element(By.CSS_SELECTOR, "a.course-lang-switch").click()
    wait(driver, lambda: driver.current_url.endswith(f"/en/{page}"), "the English page")
    wait(driver, lambda: driver.execute_script("return document.readyState") == "complete", "the page")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert not images_loaded(driver), "images that did not load"
    driver.find_element(By.CSS_SELECTOR, "a.course-lang-switch").click()
    wait(driver, lambda: driver.current_url.endswith(f"/ko/{page}"), "the Korean page again")

    # Korean search: 기울기 finds the pages that say 기울기를, and the particle in the query changes nothing
    found = search(driver, served, "ko", "기울기")
    shot(driver, "site-ko-search", readme="site-search-ko.png")
    saying = {
        p.name for p in (site.out / "ko").glob("unit*.html") if "기울기를" in p.read_text(encoding="utf-8")
    }
    assert saying and saying <= set(found), (found, saying)
    assert search(driver, served, "ko", "기울기를") == found
    # the browser's stemmer is the index's
    words = [
        "기울기를",
        "기울기는",
        "텐서에서도",
        "미분으로만",
        "계산합니다",
        "값을",
        "Gradients",
        "tensor를",
    ]
    in_browser = driver.execute_script(
        "const s = new Stemmer(); return arguments[0].map((w) => s.stemWord(w));", words
    )
    assert in_browser == [stem(w) for w in words]
    # an English search works as Sphinx's does
    assert f"{Path(LECTURES[0]).stem}.html" in search(driver, served, "en", "gradients")

    console = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not console, console
