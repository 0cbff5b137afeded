"""The embedded default data set: deterministic handwritten-style 28 x 28 digits, pure Python.

Each digit class is a small program that draws a few pen strokes (polylines and elliptical
arcs) in a unit box, with its own random "writer" choices: proportions, loop sizes, optional
flags and bars, open or closed forms. The strokes then go through a random smooth warp and an
affine map (size, width, slant, rotation, translation) into pixel space, and are rendered with
a random pen width and an anti-aliased edge ramp into uint8 intensities like MNIST: a
saturated core, soft edges with a little noise, and a background that stays exactly 0.

Every random choice comes from ``loopnet.rng.Rng``, so a seed gives the same bytes on every
run (the only platform dependence is libm's sin/cos, which could in rare cases move an edge
pixel by one grey level).

Speed: each segment is drawn like a thick Wu line, walking its major axis one pixel row (or
column) at a time and touching only the few pixels across the pen: about 0.1 ms a digit
in CPython 3.11 (10 000 in ~1 s on one core).
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

from loopnet.atomic import write_file_atomic
from loopnet.cache import cache_root
from loopnet.data.dataset import Dataset
from loopnet.data.idx import PathLike, write_idx
from loopnet.data.mnist import MNIST_FILES, TEST_FILES, TRAIN_FILES, load_mnist
from loopnet.errors import ConfigError, DataError, OutputFileError
from loopnet.rng import Rng, mix64

# Bump whenever the generated pixels change, so stale caches are not reused.
SYNTHETIC_VERSION = "v1"
CHECKSUMS = "sha256.json"  # beside the cached IDX files: what the generator made
SIDE = 28
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
DEFAULT_N_TRAIN = 10_000
DEFAULT_N_TEST = 2_000

PI = math.pi
TAU = 2.0 * math.pi
# Target length of one polyline segment along an arc, in unit-box units (~2.5 px).
ARC_STEP = 0.13
NOISE_LEN = 4096  # power of two: indexed with a mask
NOISE_AMPLITUDE = 28  # grey levels of edge noise, +-
TEST_SEED_SALT = 0x7E57_5EED_0D16_1750

Point = tuple[float, float]
Stroke = list[Point]
Uniform = Callable[[float, float], float]


def _tone_curves() -> list[bytes]:
    """Translation tables 0..255 -> 0..255 (ink tone): gamma for edge softness and a peak gain.

    Entry 0 always maps to 0 so the background stays exactly zero.
    """
    curves = []
    for gamma in (0.7, 0.85, 1.0, 1.2, 1.45):
        for peak in (255, 240, 225):
            curve = bytes(round(peak * (v / 255.0) ** gamma) for v in range(256))
            curves.append(curve)
    return curves


TONE_CURVES = _tone_curves()


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> Stroke:
    """Points along an elliptical arc from angle `a0` to `a1` (radians; y points down, so
    increasing angles run clockwise on screen: 0 right, pi/2 bottom, pi left, 3pi/2 top)."""
    steps = max(2, int(abs(a1 - a0) * max(rx, ry) / ARC_STEP + 0.5))
    da = (a1 - a0) / steps
    cos, sin = math.cos, math.sin
    return [(cx + rx * cos(a0 + i * da), cy + ry * sin(a0 + i * da)) for i in range(steps + 1)]


def _bent(p0: Point, p1: Point, bow: float, steps: int = 3) -> Stroke:
    """A quadratic curve from `p0` to `p1` whose middle bulges `bow` units along the normal
    (dy, -dx): for a stroke drawn down the page, positive `bow` bulges to the right."""
    (x0, y0), (x1, y1) = p0, p1
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    # control point: the midpoint pushed 2 * bow along the normal (the curve gets half of it)
    cx = 0.5 * (x0 + x1) + 2.0 * bow * (y1 - y0) / length
    cy = 0.5 * (y0 + y1) - 2.0 * bow * (x1 - x0) / length
    points = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c = (1.0 - t) * (1.0 - t), 2.0 * t * (1.0 - t), t * t
        points.append((a * x0 + b * cx + c * x1, a * y0 + b * cy + c * y1))
    return points


# --- the ten glyph programs: each takes u(lo, hi) (a uniform draw) and returns strokes -------


def _zero(u: Uniform) -> list[Stroke]:
    rx, ry = u(0.2, 0.42), u(0.38, 0.5)
    start = u(-2.4, -0.8)  # near the top, where a pen usually starts a 0
    # a full turn, give or take: a small gap or an overlapping tail
    loop = _arc(0.5 + u(-0.05, 0.05), 0.5, rx, ry, start, start - TAU - u(-0.45, 0.6))
    return [loop]


def _one(u: Uniform) -> list[Stroke]:
    top = (0.5 + u(-0.08, 0.16), u(0.0, 0.08))
    bottom = (0.5 + u(-0.16, 0.08), u(0.92, 1.0))
    stem = _bent(top, bottom, u(-0.07, 0.07), 2)
    strokes = [stem]
    if u(0, 1) < 0.45:  # the flag at the top, from a short tick to a long, flat arm
        stem.insert(0, (top[0] - u(0.1, 0.34), top[1] + u(0.04, 0.26)))
    if u(0, 1) < 0.12:  # a foot
        half = u(0.12, 0.24)
        strokes.append([(bottom[0] - half, bottom[1]), (bottom[0] + half, bottom[1])])
    return strokes


def _two(u: Uniform) -> list[Stroke]:
    corner = (u(0.04, 0.24), u(0.88, 0.98))
    if u(0, 1) < 0.15:  # a Z-like 2: flat top
        path = [(u(0.1, 0.3), u(0.04, 0.2)), (u(0.75, 0.95), u(0.02, 0.12))]
    else:
        cy, rx, ry = u(0.24, 0.36), u(0.25, 0.38), u(0.18, 0.3)
        path = _arc(0.5, cy, rx, ry, u(0.85, 1.2) * PI, TAU + u(0.1, 0.7))
    path += _bent(path[-1], corner, u(-0.1, 0.08), 2)[1:]
    x, y = corner
    if u(0, 1) < 0.25:  # a small loop at the bottom-left corner
        path += [(x - u(0.02, 0.07), y - u(0.06, 0.14)), (x + u(0.05, 0.12), y - 0.08)]
        path.append((x + u(0.1, 0.16), y))
    path.append((u(0.6, 0.98), y + u(-0.08, 0.03)))
    return [path]


def _three(u: Uniform) -> list[Stroke]:
    waist = u(0.42, 0.55)
    if u(0, 1) < 0.15:  # flat top and a diagonal into the lower bowl
        path = [(u(0.1, 0.3), u(0.02, 0.1)), (u(0.72, 0.92), u(0.02, 0.1)), (u(0.38, 0.55), waist)]
    else:  # upper bowl from the left over the top into the waist
        ry = u(0.17, 0.26)
        path = _arc(0.48, waist - ry, u(0.2, 0.32), ry, u(0.95, 1.3) * PI, 2.4 * PI)
    ry = u(0.2, 0.3)
    start = -0.5 * PI - u(0.15, 0.5)
    path += _arc(0.5, min(waist + ry, 0.99 - ry), u(0.25, 0.36), ry, start, u(0.7, 1.0) * PI)
    return [path]


def _four(u: Uniform) -> list[Stroke]:
    if u(0, 1) < 0.55:  # closed: one slanted stroke into the cross bar, then the stem
        bar_y = u(0.55, 0.72)
        first = [(u(0.45, 0.7), u(0.0, 0.08)), (u(0.02, 0.18), bar_y)]
        first.append((u(0.8, 1.0), bar_y + u(-0.06, 0.03)))
        x = u(0.55, 0.74)
        stem = _bent((x, u(0.05, 0.45)), (x + u(-0.08, 0.04), u(0.93, 1.0)), u(-0.04, 0.04), 2)
    else:  # open: a vertical down the left, a bar, and a long stem on the right
        bar_y = u(0.45, 0.62)
        left = u(0.08, 0.26)
        first = [(left + u(-0.04, 0.12), u(0.0, 0.12)), (left, bar_y)]
        first.append((u(0.78, 0.98), bar_y + u(-0.07, 0.02)))
        x = u(0.58, 0.78)
        stem = _bent((x + u(0.0, 0.06), u(0.0, 0.1)), (x + u(-0.08, 0.02), u(0.93, 1.0)),
                     u(-0.05, 0.05), 2)
    return [first, stem]


def _five(u: Uniform) -> list[Stroke]:
    cx, cy, rx, ry = 0.47, u(0.6, 0.7), u(0.24, 0.36), u(0.22, 0.32)
    bowl = _arc(cx, cy, rx, ry, -u(0.7, 0.88) * PI, u(0.6, 1.0) * PI)
    top = (bowl[0][0] + u(-0.04, 0.12), u(0.0, 0.1))
    body = [top] + bowl
    gap = u(0.0, 0.1) if u(0, 1) < 0.3 else 0.0  # the bar often floats free of the stem
    bar = [(top[0] + gap, top[1] + u(-0.03, 0.02)), (u(0.7, 0.98), top[1] + u(-0.07, 0.03))]
    return [body, bar]


def _six(u: Uniform) -> list[Stroke]:
    cx, cy, rx, ry = 0.5 + u(-0.05, 0.05), u(0.66, 0.76), u(0.18, 0.34), u(0.16, 0.28)
    loop = _arc(cx, cy, rx, ry, PI + u(0.0, 0.3), -PI + u(-0.4, 0.4))
    lead = _bent((u(0.55, 0.85), u(0.0, 0.08)), (cx - rx + u(-0.05, 0.04), cy), -u(0.0, 0.14), 3)
    return [lead + loop[1:]]


def _seven(u: Uniform) -> list[Stroke]:
    left = (u(0.02, 0.3), u(0.02, 0.14))
    right = (u(0.75, 0.98), u(0.0, 0.1))
    foot = (u(0.25, 0.55), u(0.93, 1.0))
    main = [left] + _bent(right, foot, u(-0.08, 0.06), 2)
    strokes = [main]
    if u(0, 1) < 0.25:  # a short down-tick on the left end of the bar
        main.insert(0, (left[0] - u(0.0, 0.04), left[1] + u(0.08, 0.18)))
    if u(0, 1) < 0.2:  # the continental cross bar
        mx, my = main[-2]
        half = u(0.1, 0.2)
        strokes.append([(mx - half, my), (mx + half, my + u(-0.03, 0.03))])
    return strokes


def _eight(u: Uniform) -> list[Stroke]:
    ry1, ry2 = u(0.14, 0.24), u(0.19, 0.28)
    cy1 = 0.02 + ry1
    cy2 = cy1 + ry1 + ry2 - u(0.0, 0.06)
    c1x, c2x = 0.5 + u(-0.06, 0.06), 0.5 + u(-0.06, 0.06)
    rx1, rx2 = u(0.14, 0.27), u(0.19, 0.33)
    if u(0, 1) < 0.5:  # two stacked loops, the top one sometimes left open
        top = _arc(c1x, cy1, rx1, ry1, u(0.3, 0.7) * PI, u(2.0, 2.8) * PI)
        bottom = _arc(c2x, cy2, rx2, ry2, -u(0.3, 0.7) * PI, u(1.3, 1.8) * PI)
        return [top, bottom]
    # one continuous S-and-back stroke, crossing in the waist
    path = _arc(c1x, cy1, rx1, ry1, -u(0.0, 0.3), -u(1.1, 1.4) * PI)
    path += _arc(c2x, cy2, rx2, ry2, -u(0.25, 0.45) * PI, u(1.2, 1.4) * PI)
    path.append((path[0][0] + u(-0.06, 0.02), path[0][1] + u(-0.04, 0.04)))
    return [path]


def _nine(u: Uniform) -> list[Stroke]:
    cx, cy, rx, ry = 0.5 + u(-0.06, 0.03), u(0.22, 0.34), u(0.17, 0.32), u(0.15, 0.26)
    # the loop runs counter-clockwise from its right side, sometimes left open on the left
    loop = _arc(cx, cy, rx, ry, u(0.0, 0.25), -TAU + u(-0.15, 0.7))
    x = cx + rx + u(-0.04, 0.02)
    stem = _bent((x, cy + u(-0.1, 0.05)), (x + u(-0.16, 0.02), u(0.92, 1.0)), u(-0.06, 0.06), 2)
    if u(0, 1) < 0.3:  # tail curling left at the bottom
        end = stem[-1]
        stem[-1] = (end[0] + 0.02, end[1] - u(0.08, 0.16))
        stem.append((end[0] - u(0.06, 0.2), end[1]))
    return [loop, stem]


GLYPHS: tuple[Callable[[Uniform], list[Stroke]], ...] = (
    _zero, _one, _two, _three, _four, _five, _six, _seven, _eight, _nine,
)


def _accidents(strokes: list[Stroke], u: Uniform) -> list[Stroke]:
    """Now and then lift the pen for one segment, or add a stray mark."""
    roll = u(0, 1)
    if roll < 0.08:  # pen lift: drop one interior segment of the longest stroke
        longest = max(strokes, key=len)
        if len(longest) >= 5:
            cut = 1 + int(u(0, 1) * (len(longest) - 3))
            strokes = [s for s in strokes if s is not longest]
            strokes += [longest[:cut + 1], longest[cut + 1:]]
    elif roll < 0.13:  # a short stray mark
        x, y = u(0.0, 1.0), u(0.0, 1.0)
        strokes = strokes + [[(x, y), (x + u(-0.15, 0.15), y + u(-0.15, 0.15))]]
    return strokes


def _place(strokes: list[Stroke], u: Uniform) -> list[Stroke]:
    """Map unit-box strokes to pixel coordinates through random smooth warps and an affine
    jitter (size, width, slant, rotation, translation)."""
    height = u(15.5, 21.5)  # pixels, like MNIST's ~20 px digits
    width = height * u(0.62, 1.05)
    slant = u(-0.25, 0.45)  # positive leans the top to the right
    angle = u(-0.28, 0.28)  # about +-16 degrees
    bend_x, bend_y, bow = u(-0.4, 0.4), u(-0.3, 0.3), u(-0.18, 0.18)
    # a low-frequency displacement field, like elastic distortion
    wobble = u(0.0, 0.05)
    fx, fy, phx, phy = u(3.0, 8.0), u(3.0, 8.0), u(0.0, TAU), u(0.0, TAU)
    ox, oy = 13.5 + u(-2.0, 2.0), 13.5 + u(-2.0, 2.0)
    c, s = math.cos(angle), math.sin(angle)
    # x_px = ox + a*xw + b*yw ; y_px = oy + d*xw + e*yw for the warped, centred unit coords
    a, b = c * width, -(c * slant + s) * height
    d, e = s * width, (c - s * slant) * height
    sin = math.sin
    placed = []
    for stroke in strokes:
        out = []
        for x, y in stroke:
            xx, yy = x - 0.5, y - 0.5
            t = xx * yy
            xw = xx + bend_x * t + bow * (yy * yy - 0.25) + wobble * sin(fx * yy + phx)
            yw = yy + bend_y * t + wobble * sin(fy * xx + phy)
            out.append((ox + a * xw + b * yw, oy + d * xw + e * yw))
        placed.append(out)
    return placed


def _render(
    strokes: list[Stroke], pen: float, soft: float, noise: list[int], j: int, buf: bytearray
) -> None:
    """Draw pixel-space polylines into the 28 x 28 `buf` (max-combined, 0..255).

    A pixel at distance d (along the minor axis) from a segment's centre line gets
    ``(edge - d) * 255 / soft`` with ``edge = half_width + soft / 2``: 255 in the core, a linear
    ramp `soft` pixels wide, 0 outside. Segments are stretched by half the pen width at both
    ends so joints and corners stay closed.
    """
    k = 255.0 / soft
    half_soft = 0.5 * soft
    stretch = 0.5 * pen
    mask = len(noise) - 1
    last = SIDE - 1
    for stroke in strokes:
        px, py = stroke[0]
        for qx, qy in stroke[1:]:
            dx, dy = qx - px, qy - py
            # walk the major axis: rows for steep segments, columns for shallow ones
            if dy * dy >= dx * dx:
                u0, v0, u1, v1, major, minor = py, px, qy, qx, SIDE, 1
            else:
                u0, v0, u1, v1, major, minor = px, py, qx, qy, 1, SIDE
            px, py = qx, qy
            du = u1 - u0
            if du < 0.0:
                u0, v0, u1, v1, du = u1, v1, u0, v0, -du
            if du == 0.0:
                continue
            slope = (v1 - v0) / du
            secant = math.sqrt(1.0 + slope * slope)
            edge = pen * secant + half_soft
            reach = stretch / secant
            lo, hi = math.ceil(u0 - reach), math.floor(u1 + reach)
            if lo < 0:
                lo = 0
            if hi > last:
                hi = last
            for a in range(lo, hi + 1):
                vc = v0 + (a - u0) * slope
                top = vc + edge
                if top < 0.0:
                    continue
                bottom = vc - edge
                b0 = int(bottom) + 1 if bottom >= 0.0 else 0
                b1 = int(top) if top < last else last
                base = a * major
                for b in range(b0, b1 + 1):
                    dist = b - vc
                    if dist < 0.0:
                        dist = -dist
                    value = int((edge - dist) * k) + noise[j & mask]
                    j += 1
                    if value > 0:
                        if value > 255:
                            value = 255
                        index = base + b * minor
                        if value > buf[index]:
                            buf[index] = value


def generate_digits(n: int, seed: int = 0) -> Dataset:
    """`n` synthetic 28 x 28 digit images with labels drawn uniformly from 0-9.

    Deterministic in `seed`; ``generate_digits(m, s)`` is a prefix of ``generate_digits(n, s)``
    for m < n. About 80 % of pixels are exactly 0, like MNIST.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"number of synthetic digits must be a non-negative integer, got {n!r}")
    rng = Rng(seed)
    uniform = rng.uniform

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * uniform()

    pixels = bytearray(n * N_PIXELS)
    labels = bytearray(n)
    noise = [rng.randbelow(2 * NOISE_AMPLITUDE + 1) - NOISE_AMPLITUDE for _ in range(NOISE_LEN)]
    n_tones = len(TONE_CURVES)
    for i in range(n):
        label = rng.randbelow(N_CLASSES)
        labels[i] = label
        strokes = _place(_accidents(GLYPHS[label](u), u), u)
        buf = bytearray(N_PIXELS)
        _render(strokes, u(0.8, 1.9), u(0.9, 1.6), noise, rng.randbelow(NOISE_LEN), buf)
        start = i * N_PIXELS
        pixels[start : start + N_PIXELS] = buf.translate(TONE_CURVES[rng.randbelow(n_tones)])
    return Dataset(bytes(pixels), bytes(labels), N_PIXELS, N_CLASSES, (SIDE, SIDE))


def holdout_seed(seed: int) -> int:
    """The seed of the test split: a scrambled function of the training seed."""
    return mix64((seed ^ TEST_SEED_SALT) & 0xFFFFFFFFFFFFFFFF)


def synthetic_cache_dir(
    n_train: int, n_test: int, seed: int, cache_dir: PathLike | None = None
) -> Path:
    """Where ``synthetic_dataset`` keeps one configuration's IDX files."""
    name = f"{SYNTHETIC_VERSION}-{seed}-{n_train}-{n_test}"
    return cache_root(cache_dir) / "synthetic" / name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _split_digests(train: Dataset, test: Dataset) -> dict:
    """SHA-256 of each generated array, keyed by the file that stores it."""
    return {TRAIN_FILES[0]: _sha256(train.pixels), TRAIN_FILES[1]: _sha256(train.labels),
            TEST_FILES[0]: _sha256(test.pixels), TEST_FILES[1]: _sha256(test.labels)}


def _read_cache(folder: Path, n_train: int, n_test: int) -> tuple[Dataset, Dataset] | None:
    """The cached pair if all files are there, valid, of the expected sizes and equal to what
    the generator made (their SHA-256 against ``CHECKSUMS``, written with them); else None."""
    if not all((folder / name).is_file() for name in (*MNIST_FILES, CHECKSUMS)):
        return None
    try:
        train, test = load_mnist(folder)
        stored = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
    except (DataError, OSError, ValueError):
        return None  # damaged cache: regenerate and overwrite
    if len(train) != n_train or len(test) != n_test or train.image_shape != (SIDE, SIDE):
        return None
    if stored != _split_digests(train, test):
        print(f"loopnet: warning: the synthetic data cache {folder} is not what the generator "
              "made (checksum mismatch); regenerating it", file=sys.stderr)
        return None
    return train, test


def _write_cache(folder: Path, train: Dataset, test: Dataset) -> None:
    """Write both splits as raw IDX files (each atomically), named like MNIST's, then their
    checksums (last: a cache interrupted before it is complete is never trusted)."""
    for (images_name, labels_name), split in ((TRAIN_FILES, train), (TEST_FILES, test)):
        write_idx(folder / images_name, (len(split), SIDE, SIDE), split.pixels, compress=False)
        write_idx(folder / labels_name, (len(split),), split.labels, compress=False)
    write_file_atomic(folder / CHECKSUMS, json.dumps(_split_digests(train, test), indent=1))


def synthetic_dataset(
    n_train: int = DEFAULT_N_TRAIN,
    n_test: int = DEFAULT_N_TEST,
    seed: int = 0,
    cache_dir: PathLike | None = None,
) -> tuple[Dataset, Dataset]:
    """The default ``(train, test)`` synthetic digit sets, cached on disk as IDX files.

    The cache lives in ``<cache root>/synthetic/<version>-<seed>-<n_train>-<n_test>/`` (see
    ``cache_root``). Later calls read it back instead of regenerating; a missing or damaged
    cache is regenerated, and an unwritable one only costs a warning.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    folder = synthetic_cache_dir(n_train, n_test, seed, cache_dir)
    cached = _read_cache(folder, n_train, n_test)
    if cached is not None:
        return cached
    train = generate_digits(n_train, seed)
    test = generate_digits(n_test, holdout_seed(seed))
    try:
        _write_cache(folder, train, test)
    except OSError as exc:  # OutputFileError included: the data is fine, only not kept
        reason = str(exc) if isinstance(exc, OutputFileError) else exc.strerror or str(exc)
        print(f"loopnet: warning: could not cache synthetic data in {folder} ({reason}); "
              "it is generated again on every run", file=sys.stderr)
    return train, test
