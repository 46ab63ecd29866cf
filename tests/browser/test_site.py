"""The built site, tested as readers meet it: in a real (headless) Chromium, with no network.

Run after ``make book`` (``make test`` does): ``pytest tests/browser``. The site is served
from ``_build/html`` on localhost; every request to any other host is blocked and counted
as a failure, so the pages are shown to work offline. Needs Debian's ``chromium``
(``make browser-deps`` installs it) and the Python package ``playwright`` (dev extra),
which drives that browser without downloading one of its own.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]

# Console messages shown to be harmless (see TOOLCHAIN.md): sphinx-thebe 0.3.1 emits its
# config script twice on every page, so the second `let THEBE_JS_URL` is a redeclaration.
# pydata-sphinx-theme logs "Got invalid theme mode: ." on a first visit, when no mode is
# stored yet and jupyter-book sets no default; it then falls back to "auto" (follow the
# system), which test_first_visit_mode_is_auto checks.
HARMLESS = [re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),
            re.compile(r"^Got invalid theme mode: \. Resetting to auto\.$")]

pytestmark = [
    pytest.mark.skipif(not SITE.joinpath("index.html").is_file(), reason="build the site first (make book)"),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser-deps)"),
]


def _pages() -> list[str]:
    pages = sorted(str(p.relative_to(SITE)) for p in (SITE / "book").rglob("*.html"))
    return pages


def _chapters() -> list[str]:
    return [p for p in _pages() if re.search(r"/\d\d-[^/]+\.html$", p)]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test log readable
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(SITE))

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page load with every request, console error and external attempt recorded."""

    def __init__(self, browser, url: str, dark: bool = False):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        if dark:
            self.context.add_init_script("localStorage.setItem('theme','dark');localStorage.setItem('mode','dark');")
        self.external: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.response = self.page.goto(url, wait_until="load")

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def wait_for_math(self) -> None:
        self.page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        self.page.evaluate("() => MathJax.startup.promise")

    def real_errors(self) -> list[str]:
        return [e for e in self.errors if not any(h.search(e) for h in HARMLESS)]

    def close(self) -> None:
        self.context.close()


def test_first_visit_mode_is_auto(browser, server):
    v = Visit(browser, f"{server}/book/intro.html")
    try:
        assert v.page.evaluate("() => document.documentElement.dataset.mode") == "auto"
        assert v.page.evaluate("() => document.documentElement.dataset.theme") in ("light", "dark")
    finally:
        v.close()


def test_site_has_pages():
    pages = _pages()
    assert "book/intro.html" in pages and len(_chapters()) >= 1, pages


@pytest.mark.parametrize("page", _pages() if SITE.is_dir() else [])
def test_page_loads_offline_with_math_and_images(browser, server, page):
    v = Visit(browser, f"{server}/{page}")
    try:
        assert v.response is not None and v.response.status == 200
        n_math = v.page.locator(".math").count()
        if n_math:
            v.wait_for_math()
            # every math node the HTML holds is typeset by MathJax (CHTML output)
            typeset = v.page.evaluate(
                "() => [...document.querySelectorAll('.math')].filter("
                "e => e.querySelector('mjx-container')).length")
            assert typeset == n_math, f"{page}: {typeset} of {n_math} math nodes typeset"
            raw_tex = v.page.evaluate(
                "() => [...document.querySelectorAll('.math')].filter("
                "e => /\\\\\\(|\\\\\\[/.test(e.textContent)).length")
            assert raw_tex == 0, f"{page}: raw TeX left in {raw_tex} math nodes"
        broken = v.page.evaluate(
            "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"{page}: images that did not load: {broken}"
        assert v.external == [], f"{page}: requests to other hosts (blocked): {v.external}"
        assert v.failed == [], f"{page}: failed requests: {v.failed}"
        assert v.real_errors() == [], f"{page}: console errors: {v.real_errors()}"
    finally:
        v.close()


@pytest.mark.parametrize("chapter", _chapters() if SITE.is_dir() else [])
def test_colab_link_points_to_tracked_notebook(browser, server, chapter):
    v = Visit(browser, f"{server}/{chapter}")
    try:
        hrefs = v.page.evaluate(
            "() => [...document.querySelectorAll('a')].map(a => a.href)"
            ".filter(h => h.includes('colab.research.google.com'))")
        assert hrefs, f"{chapter}: no 'open in Colab' link"
        for h in hrefs:
            m = re.search(r"/blob/main/(.+)$", h)
            assert m and m.group(1).endswith(".ipynb"), f"{chapter}: Colab link {h} is not a notebook"
            nb = ROOT / m.group(1)
            assert nb.is_file(), f"{chapter}: Colab link points to missing {nb}"
            tracked = subprocess.run(["git", "ls-files", "--error-unmatch", m.group(1)], cwd=ROOT,
                                     capture_output=True).returncode == 0
            assert tracked, f"{chapter}: {m.group(1)} is not committed, Colab could not open it"
        dl = v.page.evaluate(
            "() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')"
            ".filter(h => h.endsWith('.ipynb') && h.includes('_sources'))")
        assert dl, f"{chapter}: no download link for the executed notebook"
        assert (SITE / chapter).parent.joinpath(dl[0]).resolve().is_file(), dl[0]
    finally:
        v.close()


SEARCHES = {
    # one word per chapter that appears in its prose (not its title) and in no other chapter's
    # -> the chapter page the site's search must find
    "trigamma": "01-angle-distribution.html",
    "chernoff": "02-jl-lemma-theory.html",
    "martinsson": "03-jl-lemma-applications.html",
    "hellinger": "04-gaussian-divergences.html",
    "attainable": "05-entropy-normalization.html",
    "gretton": "06-hsic.html",
    "lorentzian": "07-dirac-smoothing.html",
    "whitening": "08-logistic-regression-analytic.html",
    "clipping": "22-gradient-accumulation.html",
    "sparseadam": "23-lookahead-lazy-optimizer.html",
    "averagedmodel": "24-keras-cooler-ema.html",
    "negatives": "25-contrastive-grad-accum.html",
    "santurkar": "26-batchnorm-analysis.html",
    "barrett": "27-gradient-penalty-inequality.html",
}


def test_every_chapter_has_a_search_word():
    missing = {p.rsplit("/", 1)[-1] for p in _chapters()} - set(SEARCHES.values())
    assert not missing, f"add a search word for {sorted(missing)} to SEARCHES"


@pytest.mark.parametrize("word, target", SEARCHES.items())
def test_search_finds_chapter_by_body_word(browser, server, word, target):
    if not any(p.endswith(target) for p in _chapters()):
        pytest.skip(f"{target} is not built")
    v = Visit(browser, f"{server}/search.html?q={word}")
    try:
        v.page.wait_for_selector("#search-results ul.search li, #search-results li", timeout=30_000)
        links = v.page.evaluate("() => [...document.querySelectorAll('#search-results a')].map(a => a.href)")
        assert any(target in h for h in links), f"search for {word!r} found {links}"
    finally:
        v.close()


def test_screenshots_light_and_dark(browser, server):
    chapters = _chapters()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for dark in (False, True):
        v = Visit(browser, f"{server}/{chapters[0]}", dark=dark)
        try:
            v.wait_for_math()
            theme = v.page.evaluate("() => document.documentElement.dataset.theme")
            assert theme == ("dark" if dark else "light"), theme
            v.page.screenshot(path=str(SHOTS / f"chapter-{'dark' if dark else 'light'}.png"), full_page=False)
            # scroll to the first figure and shoot it too
            if v.page.locator(".cell_output img").count():
                v.page.locator(".cell_output img").first.scroll_into_view_if_needed()
                v.page.screenshot(path=str(SHOTS / f"figure-{'dark' if dark else 'light'}.png"))
        finally:
            v.close()
