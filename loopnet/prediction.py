"""One image through a network, drawn in the terminal: the digit in block characters, the outputs
as bars, and the predicted class."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopnet import kernels
from loopnet.errors import ShapeError
from loopnet.network import MultiLayerNet

SHADES = " ░▒▓█"  # grey levels 0..4, for a pair of pixels of about the same grey
UPPER, LOWER = "▀", "▄"  # one pixel of the pair inked, the other blank
EIGHTHS = " ▏▎▍▌▋▊▉"  # partial bar cells, in eighths of a character
BAR_WIDTH = 40


@dataclass
class Prediction:
    """Scores A, outputs Y (probabilities for softmax) and the predicted class argmax_k A_k."""

    scores: list[float]
    outputs: list[float]
    predicted: int


def predict_pixels(net: MultiLayerNet, pixels: Sequence[int]) -> Prediction:
    """Run one example of uint8 pixels (X_i = pixel_i / 255) through the kernels of `net`."""
    if len(pixels) != net.sizes[0]:
        raise ShapeError(f"the model takes {net.sizes[0]} inputs, the image has {len(pixels)} "
                         "pixels")
    scores = net.predict([[p / 255.0 for p in pixels]])[0]
    n = len(scores)
    # the kernels' own output function (whatever net.output is) writes Y into H[L-1]; the loss
    # it returns is not wanted, so the teacher is all zeros
    Z = [[] for _ in range(net.n_layers - 1)] + [scores]
    H = [[] for _ in range(net.n_layers - 1)] + [[0.0] * n]
    kernels.output_loss(net._output, net.log_guard, Z, H, [0.0] * n, 0, net.sizes)
    outputs = H[-1]
    best = 0
    for k in range(1, n):
        if scores[k] > scores[best]:
            best = k
    return Prediction(scores, outputs, best)


def _level(pixel: int) -> int:
    return (pixel * (len(SHADES) - 1) + 127) // 255


def digit_blocks(pixels: Sequence[int], width: int) -> list[str]:
    """The image (rows of `width` uint8 pixels) as text, one character per two pixel rows."""
    rows = len(pixels) // width
    lines = []
    for r in range(0, rows, 2):
        line = []
        for c in range(width):
            top = _level(pixels[r * width + c])
            bottom = _level(pixels[(r + 1) * width + c]) if r + 1 < rows else 0
            if top >= 2 and bottom == 0:
                line.append(UPPER)
            elif bottom >= 2 and top == 0:
                line.append(LOWER)
            else:
                line.append(SHADES[(top + bottom + 1) // 2])
        lines.append("".join(line))
    return lines


def framed(lines: list[str]) -> list[str]:
    """`lines` (all the same width) inside a box drawn with line characters."""
    width = max(len(line) for line in lines)
    return ["┌" + "─" * width + "┐", *("│" + line + "│" for line in lines), "└" + "─" * width + "┘"]


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of `fraction` (clipped to 0..1) of `width` characters, in eighths."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def output_bars(prediction: Prediction, probabilities: bool) -> list[str]:
    """One line per class: its output, as a number and a bar (scaled to the largest |Y|)."""
    values = prediction.outputs
    top = 1.0 if probabilities else max(max(abs(v) for v in values), 1e-300)
    lines = []
    for k, v in enumerate(values):
        mark = "◀" if k == prediction.predicted else ""
        lines.append(f"{k:>3}  {v:8.4f}  {bar(abs(v) / top):<{BAR_WIDTH}} {mark}".rstrip())
    return lines
