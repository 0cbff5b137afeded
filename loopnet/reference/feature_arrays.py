"""The .npz and .mat readers of float-feature files (NumPy, SciPy): the arrays X, y
(and X_test, y_test) as loopnet's array('d') rows and float labels; see loopnet.data.features."""

from __future__ import annotations

import io
import math
import zipfile
from array import array
from dataclasses import dataclass
from pathlib import Path

from loopnet.errors import BackendError, DataError

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
    """The variables of a MATLAB/Octave .mat file (format v5 or older), via scipy.io, once
    `check_mat_v5` has found its structure sound (a damaged v5 file can crash scipy.io)."""
    try:
        import scipy.io
    except ImportError:
        raise BackendError(f"{path}: reading .mat files needs SciPy: pip install loopnet[mat]") from None
    from scipy.io.matlab import MatReadError

    from loopnet.reference.mat_v5 import check_mat_v5

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    check_mat_v5(data, path)
    try:
        return scipy.io.loadmat(io.BytesIO(data))
    except MatReadError as exc:
        raise DataError(f"{path}: not a readable .mat file ({str(exc)[:200]})") from None
    except NotImplementedError:
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; save it with -v7 or as .npz") from None
    except (ValueError, TypeError, OSError, EOFError, MemoryError, IndexError, KeyError,
            AttributeError, UnicodeDecodeError, ArithmeticError, AssertionError,
            UnboundLocalError) as exc:  # what scipy.io raises for damaged data (fuzzed)
        raise DataError(f"{path}: not a readable .mat file ({str(exc)[:200]})") from None


# ----------------------------------------------------------------------------------- arrays
def _numpy(path: Path):
    try:
        import numpy
    except ImportError:
        raise BackendError(f"{path}: reading .npz files needs NumPy: pip install numpy") from None
    return numpy


def from_arrays(path: Path, arrays: dict, x_name: str, y_name: str) -> tuple[array, list, int]:
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
