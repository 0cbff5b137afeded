"""Time the explorer page in headless Chromium: time to first render and one update step.

    python bench/explore_page.py PAGE.html [PAGE.html ...] [--rounds 5]

Each round opens every page in a fresh browser tab (pages interleaved), reads the page's own
timing (performance.now() at the end of its first render, i.e. from navigation start; and the
time of one 'one update' click: the SGD step over the minibatch plus the redraw; and the redraw
after clicking a hidden neuron), and prints the median and range over the rounds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import CHROMIUM_ARGS, chromium_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[Path, dict[str, list[float]]] = {p: {"first": [], "step": [], "select": []}
                                               for p in args.pages}
    with sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for _ in range(args.rounds):
            for path in args.pages:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(path.resolve().as_uri())
                page.wait_for_function("window.loopnetExplorer && window.loopnetExplorer.timing.firstRender")
                results[path]["first"].append(page.evaluate("window.loopnetExplorer.timing.firstRender"))
                page.click("#update")
                results[path]["step"].append(page.evaluate("window.loopnetExplorer.timing.lastStep"))
                page.click("#neuron-1-1")
                results[path]["select"].append(page.evaluate("window.loopnetExplorer.timing.lastRender"))
                page.close()
        browser.close()
    for path, r in results.items():
        for key, label in (("first", "first render"), ("step", "one update + redraw"),
                           ("select", "click a neuron (redraw)")):
            v = r[key]
            print(f"{path.name}: {label} median {statistics.median(v):.0f} ms "
                  f"(range {min(v):.0f}-{max(v):.0f} ms, {len(v)} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
