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
import zipfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from loopnet.data.dataset import Dataset
from loopnet.data.labels import classes_of
from loopnet.errors import BackendError, DataError

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
        arrays = read_npz(path) if suffix == ".npz" else read_mat(path)
        parts = [_from_arrays(path, arrays, "X", "y")]
        if "X_test" in arrays or "y_test" in arrays:
            parts.append(_from_arrays(path, arrays, "X_test", "y_test"))
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


# ----------------------------------------------------------------------------------- .npz
STREAMED = ("X", "X_test")  # feature arrays read row block by row block into an array('d')
STREAM_BYTES = 1 << 22  # bytes of rows read per block


@dataclass
class FeatureRows:
    """A feature matrix already in an array('d') (row-major, checked finite) and its shape."""

    features: array
    shape: tuple[int, int]


def read_npz(path: Path) -> dict:
    """The arrays of a NumPy .npz file, after checking each member's declared size against the
    bytes it really holds (a forged header cannot make NumPy allocate more than the file).

    X and X_test (2-D, C order, numeric) come back as FeatureRows, read block by block straight
    into one array('d'): the file's matrix is never in memory twice.
    """
    np = _numpy(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as member:
                    shape, fortran_order, dtype = _check_npy_header(path, info, member, np)
                    if (name in STREAMED and len(shape) == 2 and not fortran_order
                            and dtype.kind in "biuf" and 0 not in shape):
                        arrays[name] = _stream_rows(path, name, member, shape, dtype, np)
                        continue
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError) as exc:
        raise DataError(f"{path}: not a valid .npz archive ({exc})") from None
    except (ValueError, OSError, MemoryError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: cannot read the .npz arrays ({str(exc)[:200]})") from None
    return arrays


def _stream_rows(path: Path, name: str, member, shape, dtype, np) -> FeatureRows:
    rows, width = shape
    row_bytes = width * dtype.itemsize
    block = max(1, STREAM_BYTES // row_bytes)
    features = array("d")
    for first in range(0, rows, block):
        count = min(block, rows - first)
        data = member.read(count * row_bytes)
        if len(data) != count * row_bytes:
            raise DataError(f"{path}: {name} ends after {first + len(data) // row_bytes} of its "
                            f"{rows} rows")
        values = np.frombuffer(data, dtype=dtype).reshape(count, width).astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            r = int(np.argwhere(bad)[0][0])
            raise DataError(f"{path}: {name} row {first + r} has a feature "
                            f"{values[r][bad[r]][0]} (NaN or infinity)")
        features.frombytes(memoryview(np.ascontiguousarray(values, dtype="<f8")).cast("B"))
    return FeatureRows(features, (rows, width))


def _check_npy_header(path: Path, info, member, np) -> tuple:
    """(shape, fortran_order, dtype) of a .npy member; DataError when it is not one, holds
    objects, or declares more data than the member holds."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = fmt.read_array_header_1_0(member)
        else:
            shape, fortran_order, dtype = fmt.read_array_header_2_0(member)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise DataError(f"{path}: member {info.filename} is not a .npy array ({exc})") from None
    declared = math.prod(shape) * dtype.itemsize
    if dtype.hasobject:
        raise DataError(f"{path}: {info.filename} holds Python objects; only numeric arrays load")
    if declared > info.file_size:
        raise DataError(f"{path}: {info.filename} declares {declared} bytes of data but holds "
                        f"{info.file_size}")
    return shape, fortran_order, dtype


# ----------------------------------------------------------------------------------- .mat
def read_mat(path: Path) -> dict:
    """The variables of a MATLAB/Octave .mat file (format v5 or older), via scipy.io."""
    try:
        import scipy.io
    except ImportError:
        raise BackendError(f"{path}: reading .mat files needs SciPy: pip install loopnet[mat]") from None
    from scipy.io.matlab import MatReadError

    try:
        return scipy.io.loadmat(str(path))
    except MatReadError as exc:
        raise DataError(f"{path}: not a readable .mat file ({str(exc)[:200]})") from None
    except NotImplementedError:
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; save it with -v7 or as .npz") from None
    except (ValueError, TypeError, OSError, EOFError, MemoryError, IndexError, KeyError,
            AttributeError, UnicodeDecodeError, OverflowError, AssertionError) as exc:
        raise DataError(f"{path}: not a readable .mat file ({str(exc)[:200]})") from None


# ----------------------------------------------------------------------------------- arrays
def _numpy(path: Path):
    try:
        import numpy
    except ImportError:
        raise BackendError(f"{path}: reading .npz files needs NumPy: pip install numpy") from None
    return numpy


def _from_arrays(path: Path, arrays: dict, x_name: str, y_name: str) -> tuple[array, list, int]:
    """(features, labels, width) from the arrays named x_name (N × width) and y_name (N, or
    N × 1): numeric, finite features, one label per row."""
    import numpy as np

    for name in (x_name, y_name):
        if name not in arrays:
            found = ", ".join(n for n in arrays if not n.startswith("__")) or "none"
            raise DataError(f"{path}: no array {name!r} (found: {found})")
    X, y = arrays[x_name], arrays[y_name]
    if isinstance(X, FeatureRows):
        _check_labels(path, X.shape, y, x_name, y_name)
        return X.features, y.reshape(-1).astype(np.float64).tolist(), X.shape[1]
    if not isinstance(X, np.ndarray) or X.ndim != 2 or 0 in X.shape:
        shape = getattr(X, "shape", "?")
        raise DataError(f"{path}: {x_name} must be a non-empty 2-D array (rows × features), "
                        f"got shape {shape}")
    _check_labels(path, X.shape, y, x_name, y_name)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: {x_name} has dtype {X.dtype}; it must be numeric")
    X = np.ascontiguousarray(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r = int(np.argwhere(bad)[0][0])
        raise DataError(f"{path}: {x_name} row {r} has a feature {X[r][bad[r]][0]} "
                        "(NaN or infinity)")
    features = array("d")
    features.frombytes(memoryview(X).cast("B"))
    return features, y.reshape(-1).astype(np.float64).tolist(), X.shape[1]


def _check_labels(path: Path, x_shape, y, x_name: str, y_name: str) -> None:
    import numpy as np

    if not isinstance(y, np.ndarray) or y.size != x_shape[0] or y.ndim > 2 or (
            y.ndim == 2 and 1 not in y.shape):
        raise DataError(f"{path}: {y_name} must hold one label per row of {x_name} "
                        f"({x_shape[0]}), got shape {getattr(y, 'shape', '?')}")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{path}: {y_name} has dtype {y.dtype}; it must be numeric")
