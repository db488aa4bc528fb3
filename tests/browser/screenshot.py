"""The README screenshot: the β trade-off tab of the app on the bundled model, in headless chromium.

    .venv/bin/python -m tests.browser.screenshot            # writes docs/screenshots/explorer.png

Starts ``python app.py`` (bundled SmolLM2-135M-Instruct), loads the default bundled sets (math to learn,
knowledge to keep; ``--samples`` per set for the statistics, 64 by default so that the covariances take
minutes on a small CPU), computes the covariances, opens "Subspace & β trade-off" at β = 0.9,
rank 8, and saves the tab (header to last plot) as a PNG under ``--max-kb``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .driver import (ROOT, browser_page, click_slider, dismiss_toasts, find_chromium, open_app, open_tab, running_app, set_number,
                     wait_plot, wait_text)

OUT = ROOT / "docs" / "screenshots" / "explorer.png"


def shrink_png(path: Path, max_bytes: int) -> None:
    """Re-encode ``path`` with a 256-colour palette when it is larger than ``max_bytes`` (plots keep their look)."""
    if path.stat().st_size <= max_bytes:
        return
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def _log(message: str) -> None:
    print(f"[screenshot] {message}", file=sys.stderr, flush=True)


def take(out: Path = OUT, width: int = 1280, max_kb: int = 400, beta: float = 0.9, samples: int = 64) -> dict:
    """Drive the app on the bundled model and save the trade-off tab to ``out``; returns timings (seconds)."""
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    timings = {}
    started = time.perf_counter()
    with running_app(None, timeout_s=600) as url, browser_page(chromium, width=width, height=900) as (page, console):
        timings["app_start_s"] = round(time.perf_counter() - started, 1)
        _log(f"app answers after {timings['app_start_s']} s")
        open_app(page, url)
        set_number(page, "max-samples", samples)
        t = time.perf_counter()
        page.click("#load-data-button")
        wait_text(page, "#data-summary", "preserve:", timeout_ms=300_000)
        timings["load_data_s"] = round(time.perf_counter() - t, 1)
        _log(f"data loaded in {timings['load_data_s']} s; computing the covariances ({samples} + {samples} samples)")
        open_tab(page, "covariances")
        t = time.perf_counter()
        page.click("#covariances-button")
        wait_text(page, "#covariances-status", "modules", timeout_ms=900_000)
        wait_plot(page, "spectra-plot")
        timings["covariances_s"] = round(time.perf_counter() - t, 1)
        _log(f"covariances in {timings['covariances_s']} s")
        open_tab(page, "subspace")
        t = time.perf_counter()
        page.click("#tradeoff-button")
        wait_text(page, "#tradeoff-summary", f"At β = {beta:g}", timeout_ms=300_000)
        for elem_id in ("tradeoff-plot", "tradeoff-layers-plot", "angles-plot"):
            wait_plot(page, elem_id, timeout_ms=120_000)
        timings["tradeoff_s"] = round(time.perf_counter() - t, 1)
        dismiss_toasts(page)
        page.mouse.move(0, 0)  # no hover label on the plots
        page.wait_for_timeout(800)
        top = page.locator("h1").first.bounding_box()["y"] - 16
        last = page.locator("#angles-plot").bounding_box()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp.png")
        page.screenshot(path=str(tmp), full_page=True,
                        clip={"x": 0, "y": max(0, top), "width": width, "height": last["y"] + last["height"] + 16 - top})
        shrink_png(tmp, max_kb * 1024)
        os.replace(tmp, out)
        # How the tab answers a β move once the sweep is cached (meant to take a second or two).
        t = time.perf_counter()
        click_slider(page, "tradeoff-beta", 0.5)
        wait_text(page, "#tradeoff-summary", "At β = 0.5", timeout_ms=300_000)
        timings["beta_move_s"] = round(time.perf_counter() - t, 1)
        console.check()
    timings["total_s"] = round(time.perf_counter() - started, 1)
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--max-kb", type=int, default=400)
    parser.add_argument("--samples", type=int, default=64, help="samples per set for the statistics (N)")
    args = parser.parse_args(argv)
    timings = take(args.out, args.width, args.max_kb, samples=args.samples)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB; {timings}", file=sys.stderr)


if __name__ == "__main__":
    main()
