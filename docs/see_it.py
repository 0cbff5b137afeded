"""Regenerate the pictures of the README's "See it" section (docs/img/) from the real MNIST split.

    PYTHONPATH=. python docs/see_it.py [--data ../shared/data/mnist-t10k-split]

Trains the 784-100-10 model (20 epochs, He init, seed 0: test accuracy 0.955 here), draws the
four `loopnet show` pictures, saves `loopnet predict`'s output as text, writes two explorer
pages and screenshots them in headless Chromium (needs the `plot`, `image` and `test` extras).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM_ARGS, chromium_path  # noqa: E402


def loopnet(*argv, stdout=None, cwd=ROOT) -> None:
    subprocess.run([sys.executable, "-m", "loopnet", *map(str, argv)], check=True, cwd=cwd,
                   stdout=stdout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def screenshot(page: Path, picture: Path, click: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.goto(page.resolve().as_uri())
        tab.wait_for_function("window.loopnetExplorer && window.loopnetExplorer.timing.firstRender")
        tab.click(click)
        tab.mouse.move(0, 0)  # no hover tooltip in the picture
        tab.screenshot(path=str(picture))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist-t10k-split",
                        help="the MNIST split, relative to the repository (default %(default)s)")
    args = parser.parse_args()
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        model = Path(work) / "mnist-784-100-10.json"
        loopnet("train", "--data", args.data, "--hidden", "100", "--init", "he", "--epochs", "20",
                "--save", model, "--quiet")
        for picture in ("weights", "misclassified", "confusion", "digits"):
            loopnet("show", picture, "--model", model, "--data", args.data, "-o", IMG / f"{picture}.png")
        with open(IMG / "predict.txt", "w", encoding="utf-8") as out:
            loopnet("predict", "--model", model, "--data", args.data, "--index", "8", stdout=out)
        small, big = Path(work) / "small.html", Path(work) / "big.html"
        loopnet("explore", "--batch", "3", "-o", small)
        # run from the model's folder, so the page names it mnist-784-100-10.json; --example is
        # 1-based, as in loopnet trace: test #8
        loopnet("explore", "--model", model.name, "--data", (ROOT / args.data).resolve(),
                "--split", "test", "--example", "9", "--batch", "20", "-o", big, cwd=work)
        screenshot(small, IMG / "explore-3-4-3.png", "#neuron-1-0")
        screenshot(big, IMG / "explore-784-100-10.png", "#neuron-1-38")
    return 0


if __name__ == "__main__":
    sys.exit(main())
