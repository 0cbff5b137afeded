"""Pictures of what a network learned, drawn with matplotlib (the optional `plot` extra).

`weights_figure`: each hidden neuron's first-layer weights as an image; `misclassified_figure`:
test images the model gets wrong; `confusion_figure`: the confusion matrix as a heat map;
`digits_figure`: sample digits with their labels.  `save_figure` writes any of them atomically.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from loopnet.atomic import atomic_output
from loopnet.data.dataset import Dataset
from loopnet.errors import ConfigError, ShapeError
from loopnet.network import MultiLayerNet

PICTURES = ("weights", "misclassified", "confusion", "digits")
PREDICT_CHUNK = 1000  # examples per predict call
CELL_INCHES = 1.1  # size of one small image in a grid


def require_matplotlib(what: str = "loopnet show") -> None:
    """Raise a one-line ConfigError naming the extra when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(f"{what} needs matplotlib: pip install loopnet[plot]") from None


def _pyplot():
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_picture_path(path: str | os.PathLike) -> str:
    """The output format of `path` from its suffix; ConfigError if matplotlib cannot write it."""
    plt = _pyplot()
    fmt = Path(path).suffix.lstrip(".").lower()
    supported = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if fmt not in supported:
        raise ConfigError(f"-o {path}: unknown picture format {fmt or '(no suffix)'!r} "
                          f"(use one of {', '.join(sorted(supported))})")
    return fmt


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write `fig` to `path` atomically (the old file stays whole if anything fails), close it."""
    fmt = check_picture_path(path)
    plt = _pyplot()
    try:
        with atomic_output(path) as handle:
            fig.savefig(handle, format=fmt, dpi=100)
    finally:
        plt.close(fig)


def image_side(n_features: int, what: str) -> int:
    """The side of a square image of `n_features` pixels; ShapeError if it is not square."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ShapeError(f"{what} has {n_features} inputs, which is not a square image")
    return side


def _grid(plt, count: int, columns: int, title: str, cell: float = CELL_INCHES):
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * cell + 0.6),
                             squeeze=False)
    for ax in (a for row in axes for a in row):
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10 if columns * cell < 8 else 12)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.5 / (rows * cell + 0.6),
                        wspace=0.1, hspace=0.35)
    return fig, [a for row in axes for a in row]


def _image(pixels: Sequence[float], side: int) -> list[list[float]]:
    return [list(pixels[r * side:(r + 1) * side]) for r in range(side)]


def predicted_classes(net: MultiLayerNet, data: Dataset) -> list[int]:
    """argmax_k A_k of every example of `data` (first maximum wins), by the kernels."""
    if data.n_features != net.sizes[0]:
        raise ShapeError(f"the model takes {net.sizes[0]} inputs but the examples have "
                         f"{data.n_features} values")
    out = []
    for start in range(0, len(data), PREDICT_CHUNK):
        rows = [data.row(i) for i in range(start, min(start + PREDICT_CHUNK, len(data)))]
        for scores in net.predict(rows):
            out.append(max(range(len(scores)), key=lambda k, s=scores: (s[k], -k)))
    return out


def weights_figure(net: MultiLayerNet):
    """W_{i,j}^(1) of every hidden neuron j as a square image (red > 0, blue < 0, each neuron
    scaled to its own largest |W|)."""
    plt = _pyplot()
    n_in, n_hidden = net.sizes[0], net.sizes[1]
    side = image_side(n_in, "the model")
    W = net.backend.to_list(net.params["W1"])
    fig, axes = _grid(plt, n_hidden, math.ceil(math.sqrt(n_hidden)),
                      f"first-layer weights W_(i,j) of each of the {n_hidden} neurons "
                      f"of layer 1 (red > 0, blue < 0)", cell=0.62)
    for j, ax in enumerate(axes[:n_hidden]):
        column = [W[i * n_hidden + j] for i in range(n_in)]
        top = max(max(abs(w) for w in column), 1e-12)
        ax.imshow(_image(column, side), cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
        ax.set_title(f"H{j + 1}", fontsize=6, pad=1)
    return fig


def misclassified_figure(net: MultiLayerNet, data: Dataset, count: int, what: str):
    """Up to `count` examples of `data` whose predicted class is not their label."""
    plt = _pyplot()
    side = image_side(data.n_features, what)
    predicted = predicted_classes(net, data)
    wrong = [i for i, p in enumerate(predicted) if p != data.labels[i]]
    shown = wrong[:count]
    fig, axes = _grid(plt, max(len(shown), 1), 8,
                      f"{len(wrong)} of {len(data)} {what} misclassified "
                      f"(first {len(shown)} shown: true → predicted)", cell=1.2)
    for ax, i in zip(axes, shown):
        ax.imshow(_image(data.row(i), side), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"#{i}: {data.labels[i]} → {predicted[i]}", fontsize=8, pad=2)
    if not shown:
        axes[0].text(0.5, 0.5, "none", ha="center", va="center")
    return fig


def confusion_figure(counts: list[list[int]], what: str):
    """Rows: true label, columns: predicted; colour is the fraction of the row, text the count."""
    plt = _pyplot()
    n = len(counts)
    totals = [max(sum(row), 1) for row in counts]
    fractions = [[v / totals[r] for v in row] for r, row in enumerate(counts)]
    correct = sum(counts[k][k] for k in range(n))
    fig, ax = plt.subplots(figsize=(0.6 * n + 2, 0.6 * n + 1.4))
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    for r in range(n):
        for c in range(n):
            if counts[r][c]:
                ax.text(c, r, str(counts[r][c]), ha="center", va="center", fontsize=8,
                        color="white" if fractions[r][c] > 0.5 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true label")
    ax.set_title(f"confusion matrix, {what}: accuracy {correct / max(sum(totals), 1):.4f}")
    fig.colorbar(image, ax=ax, label="fraction of the true label's examples")
    fig.tight_layout()
    return fig


def digits_figure(data: Dataset, indices: Sequence[int], what: str,
                  predicted: Sequence[int] | None = None):
    """The examples `indices` of `data` with their labels (and predicted classes if given)."""
    plt = _pyplot()
    side = image_side(data.n_features, what)
    fig, axes = _grid(plt, len(indices), 10, f"{what}: examples with their labels"
                      + (" (label / predicted)" if predicted is not None else ""), cell=1.0)
    for n, (ax, i) in enumerate(zip(axes, indices)):
        ax.imshow(_image(data.row(i), side), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        label = f"{data.labels[i]}" if predicted is None else f"{data.labels[i]} / {predicted[n]}"
        ax.set_title(label, fontsize=8, pad=2,
                     color="black" if predicted is None or predicted[n] == data.labels[i]
                     else "red")
    return fig
