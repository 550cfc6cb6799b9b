"""Screenshots of the search page in headless Chromium, served by a real `tinyseek serve`.

Builds the sample index (or takes `--index DIR`), starts the service on a free loopback
port, and saves PNGs of the shopper's page: home, a faceted query with a price range,
page 2, a corrected query, no results, keyboard focus on a filter, and a phone-width view
(results, and the filters opened). Chromium is Debian's (`apt-get install chromium`), driven
over the DevTools protocol by `tests/browser.py`; nothing is downloaded.

    python benchmarks/screenshots.py --out /tmp/shots
    python benchmarks/screenshots.py --index ~/.cache/tinyseek/demo-index --out /tmp/shots
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser import Browser, find_chromium  # noqa: E402

RENDERED = "document.body.dataset.rendered === '?' + new URLSearchParams(location.search)"
DESKTOP = (1280, 900)
PHONE = (375, 740)
# file name -> page URL
SHOTS: dict[str, str] = {
    "01-home": "/",
    "02-facets-price": "/?q=chair&category=Furniture&price_min=100&price_max=400",
    "03-page-2": "/?q=lamp&page=2",
    "04-corrected": "/?q=sfoa",
    "05-no-results": "/?q=xqzzy&in_stock=true",
    "06-developer-view": "/?q=wingback+chair&dev=1",
}
FULL_PAGE = {"03-page-2"}  # down to the pager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tinyseek() -> str:
    return str(Path(sys.executable).with_name("tinyseek"))


def build_sample_index(out: Path) -> Path:
    catalog = REPO / "sample_data" / "corpus.jsonl"
    subprocess.run(
        [
            tinyseek(),
            "index",
            str(catalog),
            "--out",
            str(out),
            "--currency",
            "USD",
            "--no-progress",
        ],
        check=True,
    )
    return out


def serve(index: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [tinyseek(), "serve", str(index), "--port", str(port), "--no-access-log"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"tinyseek serve exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(log.read_text()[-2000:])
        time.sleep(0.25)


def capture(browser: Browser, path: Path, full_page: bool = False) -> None:
    params: dict[str, object] = {"format": "png"}
    if full_page:
        params["captureBeyondViewport"] = True
        size = browser.call("Page.getLayoutMetrics")["cssContentSize"]
        params["clip"] = {"x": 0, "y": 0, "scale": 1, **size}
    data = browser.call("Page.captureScreenshot", **params)["data"]
    path.write_bytes(base64.b64decode(data))
    print(f"{path}")


def open_page(browser: Browser, url: str) -> None:
    browser.goto(url)
    browser.wait_for(RENDERED)
    browser.evaluate("document.activeElement && document.activeElement.blur()")


def take(base: str, out: Path, chromium: str, profile: Path) -> None:
    browser = Browser(chromium, profile, *DESKTOP)
    try:
        browser.resize(*DESKTOP)
        for name, path in SHOTS.items():
            open_page(browser, base + path)
            capture(browser, out / f"{name}.png", full_page=name in FULL_PAGE)
        # keyboard: Tab from the search box until a filter checkbox has the focus
        open_page(browser, base + "/?q=sofa")
        browser.evaluate("document.getElementById('q').focus()")
        for _ in range(12):
            browser.press("Tab", "Tab", 9)
            if browser.evaluate("document.activeElement.type === 'checkbox'"):
                break
        capture(browser, out / "07-keyboard-focus.png")
        browser.resize(*PHONE, mobile=True)
        open_page(browser, base + "/?q=sofa")
        capture(browser, out / "08-phone.png")
        capture(browser, out / "09-phone-full.png", full_page=True)
        browser.evaluate("document.getElementById('filters').open = true")
        capture(browser, out / "10-phone-filters.png")
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="an index to serve (default: build one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/shots"))
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (apt-get install -y --no-install-recommends chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinyseek-shots-") as tmp:
        work = Path(tmp)
        index = args.index or build_sample_index(work / "index")
        port = free_port()
        proc = serve(index, port, work / "serve.log")
        try:
            take(f"http://127.0.0.1:{port}", args.out, chromium, work / "profile")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
