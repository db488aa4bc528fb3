"""Drive the Gradio app in Debian's headless chromium through Playwright (no browser downloads).

Used by ``tests/test_browser.py`` and by ``tests/browser/screenshot.py`` (the README screenshot):

    with running_app("tiny-llama") as url, browser_page(find_chromium()) as (page, console):
        page.goto(url); open_tab(page, "data"); ...; console.check()
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"

# Headless and self-contained: no sandbox (it needs user namespaces, often missing in containers and
# when running as root), no GPU, and no background networking, which stalls where outside hosts are
# unreachable.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]

# Console noise that says nothing about the app: (substring of the message or URL, why it is ignored).
# Only requests to other hosts are ignored; any failure on the app's own origin counts.
IGNORED_EXTERNAL = [
    ("fonts.googleapis.com", "web font from Google Fonts; the test must not depend on the network"),
    ("fonts.gstatic.com", "web font file from Google Fonts; the test must not depend on the network"),
    ("api.gradio.app", "Gradio's analytics / version check; the test must not depend on the network"),
    ("huggingface.co", "Hugging Face links and badges; the test must not depend on the network"),
    ("cdn.jsdelivr.net", "CDN assets some Gradio components fetch lazily; the test must not depend on the network"),
]


def missing_browser() -> str | None:
    """Why the real-browser test cannot run here (chromium or playwright missing), or None."""
    if find_chromium() is None:
        return "chromium is not installed (apt-get install chromium; .ci/run does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (requirements-dev.txt)"
    return None


def require_browser() -> None:
    """Skip the calling test when no browser can run, with the reason; under CI (``CI`` set), fail instead.

    ``.ci/run`` installs chromium, so a missing one there is a broken set-up, not a reason to pass.
    """
    import pytest

    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set and the real-browser test cannot run: {reason}", pytrace=False)
    pytest.skip(f"{reason}: no real-browser test")


def find_chromium() -> str | None:
    """The path of Debian's chromium, or None when it is not installed.

    ``SCLORA_CHROMIUM`` names another binary (an empty or missing path means: no browser).
    """
    if "SCLORA_CHROMIUM" in os.environ:
        path = os.environ["SCLORA_CHROMIUM"]
        return path if path and os.access(path, os.X_OK) else None
    for path in [shutil.which("chromium"), *CHROMIUM_PATHS]:
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextmanager
def running_app(model: str | None, timeout_s: float = 240.0, log_path: Path | None = None) -> Iterator[str]:
    """Start ``python app.py [--model model]`` on a free port; yield its URL once it answers; stop it after.

    The app's output goes to ``log_path`` (a temp file by default); its tail is in the error
    raised when the app dies or does not answer within ``timeout_s``.
    """
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    log_path = Path(log_path or tempfile.mkstemp(prefix="sclora-app-", suffix=".log")[1])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "app.py")] + (["--model", model] if model else [])
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with code {proc.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer on {url} within {timeout_s:.0f} s:\n{_tail(log_path)}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


@dataclass
class ConsoleLog:
    """Console errors and uncaught page errors of one page, with the ignored external noise kept apart."""

    errors: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)   # (message, reason)
    failed_requests: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        self._add(f"console.error: {message.text}" + (f" ({where})" if where else ""), message.text + " " + where)

    def on_page_error(self, error) -> None:
        self.errors.append(f"uncaught page error: {error}")

    def on_request_failed(self, request) -> None:
        failure = request.failure or ""
        # A request the app itself aborts (e.g. the queue's event stream when the page closes) is not an error.
        if "ERR_ABORTED" in failure:
            return
        self._add(f"request failed: {request.url} ({failure})", request.url)

    def _add(self, entry: str, haystack: str) -> None:
        for needle, reason in IGNORED_EXTERNAL:
            if needle in haystack:
                self.ignored.append((entry, reason))
                return
        if entry.startswith("request failed"):
            self.failed_requests.append(entry)
        self.errors.append(entry)

    def check(self) -> None:
        """Raise AssertionError listing every console error, page error and failed app request."""
        assert not self.errors, "The page logged errors:\n" + "\n".join(self.errors)


@contextmanager
def browser_page(chromium: str, width: int = 1400, height: int = 1000, scale: float = 1.0):
    """A fresh headless chromium (own profile) and one page; yields (page, ConsoleLog)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="sclora-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height}, device_scale_factor=scale)
            try:
                page = context.pages[0] if context.pages else context.new_page()
                console = ConsoleLog()
                page.on("console", console.on_console)
                page.on("pageerror", console.on_page_error)
                page.on("requestfailed", console.on_request_failed)
                yield page, console
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_app(page, url: str, timeout_ms: int = 60_000) -> None:
    """Load the app and wait until Gradio has built the page (its first tab's button is there)."""
    page.goto(url, wait_until="load", timeout=timeout_ms)
    page.wait_for_selector("#load-data-button", timeout=timeout_ms)


def open_tab(page, tab: str) -> None:
    """Click the tab button whose panel has elem_id ``tab-<tab>`` and wait for the panel to show."""
    page.locator(f"button[role=tab][aria-controls='tab-{tab}']").or_(
        page.get_by_role("tab", name=TAB_TITLES[tab], exact=True)).first.click()
    page.locator(f"#tab-{tab}").wait_for(state="visible")


TAB_TITLES = {"data": "1. Model & data", "covariances": "2. Covariance spectra",
              "subspace": "3. Subspace & β trade-off", "finetune": "4. Fine-tune & compare",
              "generations": "5. Generations", "export": "6. Export", "ask": "Ask the base model"}


def set_number(page, elem_id: str, value) -> None:
    """Type ``value`` into the number box of a gr.Slider or gr.Number and leave it (fires change / release)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def click_slider(page, elem_id: str, value: float) -> None:
    """Move a gr.Slider with the mouse, as a user does: click its track where ``value`` lies.

    The click ends in a pointerup, which is what fires the slider's ``release`` event.
    """
    track = page.locator(f"#{elem_id} input[type=range]")
    lo, hi = float(track.get_attribute("min")), float(track.get_attribute("max"))
    box = track.bounding_box()
    # Range inputs keep half a thumb (about 8 px) at each end out of the value scale.
    thumb = 8.0
    x = box["x"] + thumb + (box["width"] - 2 * thumb) * (value - lo) / (hi - lo)
    page.mouse.click(x, box["y"] + box["height"] / 2)


def wait_text(page, selector: str, text: str, timeout_ms: int = 60_000) -> str:
    """Wait until the element's text contains ``text``; return the text. Fails with what it shows instead."""
    locator = page.locator(selector)
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        current = locator.inner_text() if locator.count() else ""
        if text in current:
            return current
        toast = error_toasts(page)
        if toast:
            raise AssertionError(f"waiting for {text!r} in {selector}, the app showed an error: {toast}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} does not show {text!r} after {timeout_ms / 1000:.0f} s; it shows "
                                 f"{current[:500]!r}")
        page.wait_for_timeout(250)


def error_toasts(page) -> list[str]:
    """Texts of the error toasts (gr.Error) shown on the page."""
    toasts = page.locator("[data-testid='toast-body'].error")
    return [" ".join(t.inner_text().split()) for t in toasts.all()]


def dismiss_toasts(page) -> None:
    """Close the info / warning toasts (they cover the top right corner of screenshots)."""
    # Best effort, in the page: grouped toasts keep the close buttons of collapsed ones inert.
    for _ in range(5):
        left = page.evaluate("""() => {
            const buttons = [...document.querySelectorAll("[data-testid='toast-close']")];
            buttons.forEach(b => b.click());
            return buttons.length;
        }""")
        if not left:
            return
        page.wait_for_timeout(200)


def selected_tokens(page, elem_id: str) -> list[str]:
    """The values shown as tokens in a multiselect gr.Dropdown."""
    return [t.strip() for t in page.locator(f"#{elem_id} .token > span").all_inner_texts()]


def choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in the gr.Dropdown ``elem_id`` with the mouse (fires its input / change events)."""
    page.locator(f"#{elem_id} input[role=combobox]").click()
    page.locator(f"#{elem_id} [role=option][aria-label='{option}']").click()


_PLOT_STATE = """
(id) => {
  const root = document.getElementById(id);
  if (!root) return {found: false};
  const plot = root.querySelector('.js-plotly-plot');
  if (!plot) return {found: true, plotly: false};
  const box = plot.getBoundingClientRect();
  const layout = plot.layout || {};
  return {
    found: true, plotly: true,
    main_svg: plot.querySelectorAll('.main-svg').length,
    figure_traces: (plot.data || []).length,
    // What Plotly drew: scatter / bar traces are g.trace, heatmaps g.hm with an <image>.
    drawn_traces: plot.querySelectorAll('.main-svg g.trace, .main-svg g.hm').length,
    points: plot.querySelectorAll('.main-svg path.point, .main-svg path.js-line, .main-svg g.hm image').length,
    width: box.width, height: box.height,
    title: (layout.title && (layout.title.text || layout.title)) || '',
    names: (plot.data || []).map(t => t.name || ''),
    shapes_x: (layout.shapes || []).map(s => s.x0),
    yaxis_type: (plot._fullLayout && plot._fullLayout.yaxis && plot._fullLayout.yaxis.type) || '',
    heatmaps: plot.querySelectorAll('.main-svg g.hm image').length,
  };
}
"""


def plot_state(page, elem_id: str) -> dict:
    """What the gr.Plot with ``elem_id`` shows: Plotly graph div present, svg layers, traces, size."""
    return page.evaluate(_PLOT_STATE, elem_id)


def wait_plot(page, elem_id: str, timeout_ms: int = 60_000, min_traces: int = 1) -> dict:
    """Wait until the gr.Plot ``elem_id`` holds a rendered Plotly figure with at least ``min_traces`` drawn traces."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        state = plot_state(page, elem_id)
        if (state.get("plotly") and state["main_svg"] > 0 and state["drawn_traces"] >= min_traces
                and state["figure_traces"] >= min_traces and state["width"] > 50 and state["height"] > 50):
            return state
        toast = error_toasts(page)
        if toast:
            raise AssertionError(f"waiting for plot #{elem_id}, the app showed an error: {toast}")
        if time.monotonic() > deadline:
            raise AssertionError(f"plot #{elem_id} did not render {min_traces}+ traces: {json.dumps(state)}")
        page.wait_for_timeout(250)


def table_rows(page, elem_id: str) -> list[list[str]]:
    """Rendered body cells of a gr.Dataframe as text, row by row (Gradio 6 draws a virtual grid)."""
    return page.evaluate("""(id) => {
        const root = document.getElementById(id);
        if (!root) return [];
        return [...root.querySelectorAll('[role=row].virtual-row')].map(
            row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.innerText.trim()));
    }""", elem_id)


def table_header(page, elem_id: str) -> list[str]:
    """Column names of a gr.Dataframe."""
    return page.evaluate("""(id) => {
        const root = document.getElementById(id);
        if (!root) return [];
        return [...root.querySelectorAll('th[role=columnheader]')].map(th => th.getAttribute('title') || th.innerText.trim());
    }""", elem_id)


def screenshot(page, name: str, folder: Path = ARTIFACTS, full_page: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
