"""The shopper's page, driven in headless Chromium (tests/browser.py): filters change the
results, pages, the URL round-trips, highlights, keyboard use, a phone-width screen, and
the API docs without a network. Skipped without Chromium (`.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import Browser, find_chromium
from tests.test_api import TINYSEEK, free_port

API_KEY = "page-key"
IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
RENDERED = "document.body.dataset.rendered === '?' + new URLSearchParams(location.search)"
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install -y --no-install-recommends chromium)",
)


@pytest.fixture(scope="module")
def page_server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tinyseek serve` over a copy of the sample index, plus one product with a picture."""
    index = tmp_path_factory.mktemp("page") / "index"
    shutil.copytree(sample_index, index)
    port = free_port()
    log_path = index.parent / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TINYSEEK_API_KEY": API_KEY}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(TINYSEEK), "serve", str(index), "--port", str(port), "--no-access-log"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.25)
        product = {
            "id": "PIC-1",
            "title": "Pictured Porcelain Teapot with Bamboo Handle",
            "description": "A teapot for loose leaf tea, shown in its picture.",
            "brand": "Kitchora",
            "category": "Kitchen > Tea & Coffee > Teapots",
            "price": 39.5,
            "rating": 4.2,
            "image_url": IMAGE,
        }
        written = httpx.post(
            f"{base}/documents",
            json={"products": [product]},
            headers={"X-API-Key": API_KEY},
            timeout=60,
        )
        assert written.status_code == 200, written.text
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM is not None
    chrome = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


def open_page(browser: Browser, url: str) -> None:
    browser.goto(url)
    browser.wait_for(RENDERED)


def after(browser: Browser, action: str, url_part: str) -> None:
    """Run a JavaScript action, then wait until the page drew the URL it led to."""
    browser.evaluate(action)
    browser.wait_for(f"location.search.includes({url_part!r}) && {RENDERED}")


def total(browser: Browser) -> int:
    return int(browser.evaluate("document.getElementById('status').dataset.total"))


def card_ids(browser: Browser) -> list[str]:
    ids: list[str] = browser.evaluate(
        "[...document.querySelectorAll('.card')].map(c => c.dataset.id)"
    )
    return ids


def test_filters_change_the_results(browser: Browser, page_server: str) -> None:
    open_page(browser, f"{page_server}/?q=chair")
    before = total(browser)
    assert before > 10 and len(card_ids(browser)) == 10
    brand, count = browser.evaluate(
        "(() => { const i = document.querySelector('#facet-brand input:not(:checked)');"
        " const l = i.parentElement; return [l.querySelector('.value').textContent,"
        " Number(l.querySelector('.count').textContent)]; })()"
    )
    after(browser, "document.querySelector('#facet-brand input:not(:checked)').click()", "brand=")
    assert total(browser) == count < before
    metas = browser.evaluate(
        "[...document.querySelectorAll('.card .meta')].map(m => m.textContent)"
    )
    assert metas and all(m.startswith(brand) for m in metas)
    assert browser.evaluate("document.querySelector('#facet-brand input').checked")
    # the price range: typed bounds, applied with the form's button
    browser.evaluate(
        "document.getElementById('price-min').value = '100';"
        "document.getElementById('price-max').value = '400'"
    )
    after(browser, "document.getElementById('price-apply').click()", "price_max=400")
    prices = browser.evaluate(
        "[...document.querySelectorAll('.card .price')].map(p => p.textContent)"
    )
    values = [float(p.replace("$", "").replace(",", "")) for p in prices]
    assert all(100 <= v <= 400 for v in values)
    assert total(browser) == len(values) or total(browser) > len(values) == 10
    after(browser, "document.getElementById('clear-filters').click()", "q=chair")
    assert total(browser) == before and "brand=" not in browser.evaluate("location.search")


def test_pages_with_a_total_and_the_keyboard(browser: Browser, page_server: str) -> None:
    open_page(browser, f"{page_server}/?q=chair")
    first = card_ids(browser)
    n = total(browser)
    # keyboard: focus the pager's "Next" link and press Enter
    browser.evaluate("document.querySelector('#pager a[rel=next]').focus()")
    browser.press("Enter", "Enter", 13)
    browser.wait_for(f"location.search.includes('page=2') && {RENDERED}")
    second = card_ids(browser)
    assert second and not set(first) & set(second)
    status = browser.evaluate("document.getElementById('status').textContent")
    assert status.startswith(f"11–{10 + len(second)} of {n} results")
    current = "document.querySelector('#pager a[aria-current=page]').textContent"
    assert browser.evaluate(current) == "2"
    browser.evaluate("history.back()")
    browser.wait_for(f"!location.search.includes('page=') && {RENDERED}")
    assert card_ids(browser) == first


def test_the_url_round_trips(browser: Browser, page_server: str) -> None:
    url = (
        f"{page_server}/?q=lamp&category=Lighting&price_min=20&price_max=200&in_stock=true"
        "&rating_min=3&sort=price_desc&page=2&k=5"
    )
    open_page(browser, url)
    state = browser.evaluate(
        "({q: document.getElementById('q').value, sort: document.getElementById('sort').value,"
        " min: document.getElementById('price-min').value,"
        " max: document.getElementById('price-max').value,"
        " stock: document.getElementById('in-stock').checked,"
        " rating: (document.getElementById('rating-3') || {}).checked,"
        " category: [...document.querySelectorAll('#facet-category input:checked')]"
        ".map(i => i.parentElement.querySelector('.value').textContent),"
        " page: document.querySelector('#pager a[aria-current=page]').textContent})"
    )
    assert state == {
        "q": "lamp",
        "sort": "price_desc",
        "min": "20",
        "max": "200",
        "stock": True,
        "rating": True,
        "category": ["Lighting"],
        "page": "2",
    }
    prices = browser.evaluate(
        "[...document.querySelectorAll('.card .price')].map(p => p.textContent)"
    )
    values = [float(p.replace("$", "").replace(",", "")) for p in prices]
    assert values == sorted(values, reverse=True) and all(20 <= v <= 200 for v in values)
    shown = card_ids(browser)
    open_page(browser, browser.evaluate("location.href"))  # reload: the same page
    assert card_ids(browser) == shown
    # a sort chosen on the page lands in the URL and back on page 1
    after(
        browser,
        "const s = document.getElementById('sort'); s.value = 'rating';"
        " s.dispatchEvent(new Event('change'))",
        "sort=rating",
    )
    assert "page=" not in browser.evaluate("location.search")


def test_highlights_pictures_and_reasons(browser: Browser, page_server: str) -> None:
    open_page(browser, f"{page_server}/?q=wingback+chair")
    marks = browser.evaluate(
        "[...document.querySelectorAll('.card .title mark')].map(m => m.textContent.toLowerCase())"
    )
    assert "wingback" in marks and "chair" in marks
    open_page(browser, f"{page_server}/?q=bamboo+teapot")
    assert browser.evaluate("document.querySelector('.card[data-id=\"PIC-1\"] img').src") == IMAGE
    assert browser.evaluate("document.querySelector('.card .snippet mark').textContent") == "teapot"
    open_page(browser, f"{page_server}/?q=couch")
    reasons = browser.evaluate(
        "[...document.querySelectorAll('.card .reason')].map(r => r.textContent)"
    )
    assert reasons and set(reasons) == {"semantic match"}


def test_no_results_and_the_correction(browser: Browser, page_server: str) -> None:
    open_page(browser, f"{page_server}/?q=xqzzy")
    assert total(browser) == 0 and card_ids(browser) == []
    assert "No products match" in browser.evaluate("document.getElementById('status').textContent")
    open_page(browser, f"{page_server}/?q=sfoa&k=5&dev=1")
    assert browser.evaluate("document.querySelectorAll('tr.hit').length") == 5
    assert browser.evaluate("document.getElementById('correction').textContent") == (
        "Showing results for sofa. Search instead for sfoa."
    )
    link = browser.evaluate("document.getElementById('search-instead').getAttribute('href')")
    assert link == "?q=sfoa&k=5&dev=1&spell=false"
    assert " ms" in browser.evaluate("document.getElementById('status').textContent")


def test_home_and_a_way_out_of_no_results(browser: Browser, page_server: str) -> None:
    open_page(browser, f"{page_server}/")
    assert browser.evaluate("getComputedStyle(document.querySelector('aside')).display") == "none"
    after(browser, "document.querySelector('#status a').click()", "q=sofa")
    assert total(browser) > 0
    assert browser.evaluate("getComputedStyle(document.querySelector('aside')).display") != "none"
    open_page(browser, f"{page_server}/?q=sofa&price_min=100000")
    assert total(browser) == 0
    after(browser, "document.getElementById('without-filters').click()", "q=sofa")
    assert "price_min" not in browser.evaluate("location.search") and total(browser) > 0


def test_phone_width(browser: Browser, page_server: str) -> None:
    browser.resize(375, 740, mobile=True)
    try:
        open_page(browser, f"{page_server}/?q=sofa")
        assert browser.evaluate("document.getElementById('filters').open") is False
        assert browser.evaluate("document.documentElement.scrollWidth") <= 375
        assert len(card_ids(browser)) == 10
        after(
            browser,
            "document.getElementById('filters').open = true;"
            "document.querySelector('#facet-in_stock input').click()",
            "in_stock=true",
        )
        stock = browser.evaluate(
            "[...document.querySelectorAll('.card .stock')].map(s => s.textContent)"
        )
        assert stock and set(stock) == {"In stock"}
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")


def test_api_docs_render_offline(browser: Browser, page_server: str) -> None:
    """Swagger UI comes from the service itself (the fastapi-offline package's assets)."""
    html = httpx.get(f"{page_server}/docs", timeout=10).text
    assert "cdn" not in html.lower() and "/docs-assets/swagger-ui-bundle.js" in html
    open_page_docs = f"{page_server}/docs"
    browser.goto(open_page_docs)
    count = browser.wait_for("document.querySelectorAll('.swagger-ui .opblock').length")
    assert count >= 5
