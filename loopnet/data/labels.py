"""How a data file's labels become the network's classes 0..K-1, and back.

Without a map, the labels must already be the integers 0..K-1 (K = largest label + 1).  A label
map lists the file's labels in class order: class c is the c-th label of the map.  Coursera's
ex4 files label digits 1..10 (10 for the digit 0) and its Theta2 has one row per label in that
order, so ``--label-map 1..10`` makes class c the label c + 1 (class 9 is label 10, the digit 0)
and ex4's weights import unchanged.  ``--label-map 10,1,2,3,4,5,6,7,8,9`` would instead make
class c the digit c (ex4's weights then no longer line up with the classes).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from loopnet.errors import ConfigError, DataError

MAX_CLASSES = 256  # labels are stored one byte per example


def parse_label_map(spec: str) -> list[int]:
    """"1..10" (a range, both ends included) or "10,1,2" (labels in class order) → the labels of
    classes 0, 1, …; ConfigError for anything else, repeats, or more than 256 classes."""
    text = spec.strip()
    try:
        if ".." in text:
            first, last = (int(part) for part in text.split(".."))
            labels = list(range(first, last + 1))
        else:
            labels = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"label map {spec!r} is neither a range like 1..10 nor a comma list "
                          "of integer labels like 10,1,2") from None
    if not labels:
        raise ConfigError(f"label map {spec!r} lists no labels")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"label map {spec!r} lists a label twice")
    if len(labels) > MAX_CLASSES:
        raise ConfigError(f"label map {spec!r} has {len(labels)} classes; at most {MAX_CLASSES}")
    return labels


def classes_of(raw: Sequence[float], label_map: Sequence[int] | None, what: str) -> bytes:
    """The class (0..K-1) of each raw label, one byte each.  DataError names the first row whose
    label is not an integer, is negative or too large (no map), or is not in the map."""
    index = None if label_map is None else {label: c for c, label in enumerate(label_map)}
    out = bytearray(len(raw))
    for r, value in enumerate(raw):
        value = float(value)
        if not math.isfinite(value) or value != int(value):
            raise DataError(f"{what}: row {r} has label {value!r}, not an integer")
        label = int(value)
        if index is None:
            if not 0 <= label < MAX_CLASSES:
                raise DataError(f"{what}: row {r} has label {label}; without --label-map labels "
                                f"must be 0..{MAX_CLASSES - 1} (ex4's 1..10: --label-map 1..10)")
            out[r] = label
        elif label in index:
            out[r] = index[label]
        else:
            raise DataError(f"{what}: row {r} has label {label}, which the label map "
                            f"({', '.join(map(str, label_map))}) does not list")
    return bytes(out)


def describe(label_map: Sequence[int] | None) -> str:
    """One line saying which file label each class is."""
    if label_map is None:
        return "class c is label c"
    pairs = ", ".join(f"{c}←{label}" for c, label in enumerate(label_map))
    return f"classes ← labels: {pairs}"
