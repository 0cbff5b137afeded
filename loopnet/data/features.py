"""Float-feature data files: `.npz` (arrays X, y), `.csv` (one example per line) and `.mat`
(MATLAB/Octave X, y, as Coursera's ex4 ships them).

Each loader returns ``(train, test)`` Datasets of float features (`test` is None unless the file
also holds ``X_test``, ``y_test``).  Features are checked finite (the first bad row is named) and
kept as one ``array('d')``; labels become classes 0..K-1 through `loopnet.data.labels`.  Every
malformed file gives a DataError, never a traceback.
"""
from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

from loopnet.data.dataset import Dataset
from loopnet.data.labels import classes_of
from loopnet.errors import DataError

FEATURE_SUFFIXES = (".npz", ".csv", ".mat")
LabelColumn = Optional[Union[int, str]]


def is_feature_file(spec) -> bool:
    """True when `spec` names a file loopnet reads as float features (by its suffix)."""
    return Path(str(spec)).suffix.lower() in FEATURE_SUFFIXES


def load_feature_file(path, *, label_column: LabelColumn = None,
                      label_map: Sequence[int] | None = None
                      ) -> tuple[Dataset, Dataset | None]:
    """(train, test-or-None) from a .npz, .csv or .mat file; see the module docstring."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in FEATURE_SUFFIXES:
        raise DataError(f"{path}: float data must be a .npz, .csv or .mat file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffix == ".csv":
        X, y, width = read_csv(path, label_column)
        parts = [(X, y, width)]
    else:
        if label_column is not None:
            raise DataError(f"{path}: --label-column applies to .csv files only (a {suffix} "
                            "file holds the arrays X and y)")
        from loopnet.reference.feature_arrays import from_arrays, read_mat, read_npz

        arrays = read_npz(path) if suffix == ".npz" else read_mat(path)
        parts = [from_arrays(path, arrays, "X", "y")]
        if "X_test" in arrays or "y_test" in arrays:
            parts.append(from_arrays(path, arrays, "X_test", "y_test"))
    classes = [classes_of(y, label_map, f"{path}{'' if k == 0 else ' (test)'}")
               for k, (_, y, _) in enumerate(parts)]
    widths = {width for _, _, width in parts}
    if len(widths) != 1:
        raise DataError(f"{path}: X has {parts[0][2]} features per row but X_test has {parts[1][2]}")
    n_classes = len(label_map) if label_map is not None else max(max(c, default=0) for c in classes) + 1
    sets = [Dataset(b"", c, width, n_classes, (), X) for (X, _, width), c in zip(parts, classes)]
    return sets[0], (sets[1] if len(sets) > 1 else None)


# ----------------------------------------------------------------------------------- .csv
def read_csv(path: Path, label_column: LabelColumn = None) -> tuple[array, list[float], int]:
    """(features, labels, width) of a CSV file: one example per line, every field a number, the
    label in the last column or in `label_column` (0-based index, negative from the end, or a
    header name).  A first line with a non-number is a header."""
    features = array("d")
    labels: list[float] = []
    width = None
    column = None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for line_no, fields in enumerate(csv.reader(handle), start=1):
                if not fields or all(not f.strip() for f in fields):
                    continue
                if width is None and line_no == 1 and not _all_numbers(fields):
                    column = _header_column(path, fields, label_column)
                    width = len(fields)
                    continue
                if width is None:
                    width = len(fields)
                    column = _index_column(path, width, label_column)
                if len(fields) != width:
                    raise DataError(f"{path}: line {line_no} has {len(fields)} fields, "
                                    f"expected {width}")
                values = []
                for k, text in enumerate(fields):
                    try:
                        values.append(float(text))
                    except ValueError:
                        raise DataError(f"{path}: line {line_no}, field {k + 1} is "
                                        f"{text.strip()[:40]!r}, not a number") from None
                label = values.pop(column)
                bad = next((v for v in values if not math.isfinite(v)), None)
                if bad is not None:
                    raise DataError(f"{path}: line {line_no} (row {len(labels)}) has a feature "
                                    f"{bad} (NaN or infinity)")
                features.extend(values)
                labels.append(label)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV: {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not labels:
        raise DataError(f"{path}: no examples")
    if width < 2:
        raise DataError(f"{path}: each line needs at least one feature and a label")
    return features, labels, width - 1


def _all_numbers(fields: list[str]) -> bool:
    for text in fields:
        try:
            float(text)
        except ValueError:
            return False
    return True


def _index_column(path: Path, width: int, label_column: LabelColumn) -> int:
    if label_column is None:
        return width - 1
    if isinstance(label_column, str):
        try:
            label_column = int(label_column)
        except ValueError:
            raise DataError(f"{path}: --label-column {label_column!r} names a column but the "
                            "file has no header line") from None
    if not -width <= label_column < width:
        raise DataError(f"{path}: --label-column {label_column} is outside the {width} columns")
    return label_column % width


def _header_column(path: Path, header: list[str], label_column: LabelColumn) -> int:
    names = [h.strip() for h in header]
    if isinstance(label_column, str) and label_column in names:
        return names.index(label_column)
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        raise DataError(f"{path}: no column named {label_column!r} (header: "
                        f"{', '.join(names)[:200]})")
    return _index_column(path, len(header), label_column)
