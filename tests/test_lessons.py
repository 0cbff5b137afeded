"""Every lesson in docs/lessons runs, prints exactly the output its page shows, and that output
holds the source articles' own worked numbers (to the digits the articles print).

    python tests/test_lessons.py --write   # rewrite the pages' output blocks after a change
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "docs" / "lessons").glob("[0-9][0-9]-*.md"))
OUTPUT_BLOCK = re.compile(r"Output:\n\n```text\n(.*?)```", re.S)

# The articles' printed numbers (facts from ../shared/seeds and the sources the issue names).
ARTICLE_NUMBERS = {
    # seed 002: the gates' truth tables with its hand-set weights
    "01-perceptron": ["AND 0 0 0 1", "NAND 1 1 1 0", "OR 0 1 1 1", "XOR 0 1 1 0",
                      "a step network can only predict"],
    # the book's chapter 3 network: y = [0.31682708 0.69627909]
    "02-forward-pass": ["0.31682708 0.69627909"],
    # seed 000 / the book's chapter 4: 0.0975 and 0.510825…; 0.5975 and 2.302584…
    "03-loss-functions": ["mse 0.0975", "cross-entropy 0.510825", "mse 0.5975",
                          "cross-entropy 2.302584"],
    # seed 002: gradient descent of x0² + x1² from (3, 4), lr 0.1, 100 steps
    "04-gradient-descent": ["6.0000000000 8.0000000000", "6.11110793e-10 8.14814391e-10"],
    # seed 003 / the book's chapter 5: 220 (2.2, 110, 200); 715 (110, 2.2, 3.3, 165, 650)
    "05-computational-graph": ["apples: 220", "d/dapple 2.2", "d/dapple_num 110", "d/dtax 200",
                               "apples and oranges: 715", "d/dorange 3.3", "d/dorange_num 165",
                               "d/dtax 650"],
    # the 2-2-2 sigmoid walkthrough (squared error, η = 0.5)
    "06-backprop-2-2-2": ["E_total 0.298371109", "w5 0.35891648", "w6 0.408666186",
                          "w7 0.511301270", "w8 0.561370121"],
    # seed 004: no printed numbers; the trace and the API must agree (checked below)
    "07-mind-forward-backward": ["loss 2.687", "ΔW_(1,1)^(1) 0.1463", "ΔB_1^(1) 0.3403"],
    # seed 003: the book's gradient check prints 1e-10 .. 1e-13 per parameter (its digits
    # depend on its random init; the order of magnitude is the article's result)
    "08-book-mnist": [re.compile(rf"^{key} \d\.\de-1[0-3]$", re.M) for key in ("W1", "b1", "W2", "b2")],
    # Coursera ex4 (seed 001): sigmoidGradient([-1 -0.5 0 0.5 1]); checkNNGradients' relative
    # difference below 1e-9; about 95.3 % training accuracy (± 1 %, the random init) after 50
    # iterations of fmincg
    "09-coursera-ex4": ["0.196612 0.235004 0.250000 0.235004 0.196612",
                        re.compile(r"relative difference \d\.\de-(09|1\d) \(below 1e-9: True\)"),
                        re.compile(r"training accuracy 9[4-6]\.\d %")],
}
NEEDS = {"08-book-mnist": ("mnist", "numba"), "09-coursera-ex4": ("mnist", "numba", "scipy")}


def lesson_code(path: Path) -> str:
    return "".join(re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S))


def documented_output(path: Path) -> str:
    found = OUTPUT_BLOCK.findall(path.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{path.name} needs exactly one 'Output:' text block"
    return found[0]


def run_lesson(path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", lesson_code(path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{path.name} failed:\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_every_lesson_is_checked_against_its_article():
    assert [p.stem for p in LESSONS] == sorted(ARTICLE_NUMBERS)


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_prints_its_page_and_the_articles_numbers(path, request):
    for need in NEEDS.get(path.stem, ()):
        if need == "mnist":
            request.getfixturevalue("mnist_split_dir")
        elif need == "numba":
            request.getfixturevalue("numba_backend")
        elif importlib.util.find_spec(need) is None:
            pytest.skip(f"{need} is not installed (pip install loopnet[mat])")
    out = run_lesson(path)
    assert out == documented_output(path)
    for number in ARTICLE_NUMBERS[path.stem]:
        found = number.search(out) if isinstance(number, re.Pattern) else number in out
        assert found, f"{path.name} does not print the article's {number!r}"


def _write_outputs() -> None:
    for path in LESSONS:
        text = path.read_text(encoding="utf-8")
        out = run_lesson(path)
        path.write_text(OUTPUT_BLOCK.sub(lambda m, out=out: f"Output:\n\n```text\n{out}```", text, count=1),
                        encoding="utf-8")
        print(f"{path.name}: {len(out.splitlines())} lines")


if __name__ == "__main__" and "--write" in sys.argv:
    _write_outputs()
