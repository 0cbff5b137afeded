"""The explorer: one self-contained HTML page that draws a network and computes with its kernels.

`build_page` writes the network's parameters and a minibatch into a page whose JavaScript
(``kernels.js``: loopnet's kernels written again with the same names and order of operations;
``equations.js``: `loopnet trace`'s equations and number format; ``page.js``: drawing and
interaction) recomputes every value in the browser.  Everything is inline: the page works
from ``file://`` with no network access.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources
from string import Template

from loopnet.errors import ConfigError, ShapeError
from loopnet.network import MultiLayerNet

SCRIPTS = ("kernels.js", "equations.js", "page.js")
MIN_IMAGE_SIDE = 8  # square inputs of at least 8×8 are drawn as an image, not as circles
MAX_EXAMPLES = 1000  # examples embedded in one page


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def image_side(n_inputs: int) -> int | None:
    """The side of the square image the inputs form, or None to draw them as circles."""
    side = math.isqrt(n_inputs)
    return side if side * side == n_inputs and side >= MIN_IMAGE_SIDE else None


def page_data(net: MultiLayerNet, rows: Sequence[Sequence[float]], labels: Sequence[int],
              names: Sequence[str], lr: float, summary: str) -> dict:
    """What the page computes from: the network, the minibatch (X, one-hot T), η, labels."""
    count = len(rows)
    if not 1 <= count <= MAX_EXAMPLES:
        raise ConfigError(f"explore shows 1..{MAX_EXAMPLES} examples, got {count}")
    n_in, n_out = net.sizes[0], net.sizes[-1]
    X: list[float] = []
    for row in rows:
        if len(row) != n_in:
            raise ShapeError(f"an example has {len(row)} values, the network takes {n_in}")
        X += [float(v) for v in row]
    if not all(math.isfinite(v) for v in X):
        raise ShapeError("the examples contain NaN or infinity")
    T = []
    for label in labels:
        if not 0 <= label < n_out:
            raise ShapeError(f"label {label} needs more than {n_out} outputs")
        T += [1.0 if k == label else 0.0 for k in range(n_out)]
    return {
        "sizes": list(net.sizes), "activation": net._activation, "output": net._output,
        "log_guard": net.log_guard, "weight_decay": net.weight_decay, "lr": lr,
        "params": [net.backend.to_list(net.params[name]) for name in net.names],
        "X": X, "T": T, "labels": list(labels), "names": list(names),
        "image_side": image_side(n_in), "summary": summary,
    }


def build_page(data: dict, title: str = "network") -> str:
    """The HTML page (one string: scripts, style and data inline) for `page_data`'s result."""
    script = "\n".join(_asset(name) for name in SCRIPTS)
    if "</script" in script.lower():
        raise AssertionError("a page script contains </script")
    # floats as Python's shortest repr, which JSON.parse turns back into the same doubles;
    # "</" escaped so no string in the data can end the <script> element
    payload = json.dumps(data, allow_nan=False, ensure_ascii=False).replace("</", "<\\/")
    return Template(_asset("page.html")).substitute(
        title=title.replace("&", "&amp;").replace("<", "&lt;"), style=_asset("style.css"),
        data=payload, script=script)
