"""Reading and writing IDX files (the MNIST container format), unsigned-byte data only.

An IDX file is a 4-byte magic ``00 00 <dtype> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the data in row-major order. Only dtype 0x08 (unsigned byte) is
supported. Files may be gzip-compressed; compression is detected from the gzip magic bytes,
never from the file name.

This module also holds the two small file helpers the data loaders share: an atomic writer
(temporary file in the target directory, then ``os.replace``) and the cache root.
"""
from __future__ import annotations

import contextlib
import gzip
import math
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Union

from loopnet.atomic import atomic_output as _atomic_output
from loopnet.errors import DataError, ShapeError

PathLike = Union[str, "os.PathLike[str]"]

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
MAX_NDIM = 8
# Largest payload accepted (1 GiB); MNIST's training images are 47 MB. A header promising more
# is treated as corrupt rather than trusted with an allocation.
MAX_DATA_BYTES = 1 << 30
CHUNK = 1 << 20

_DTYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}


def atomic_output(path: PathLike) -> contextlib.AbstractContextManager[BinaryIO]:
    """`loopnet.atomic.atomic_output`, creating the parent directory (cache folders) if needed."""
    return _atomic_output(path, create_parents=True)


def _read_up_to(stream: BinaryIO, count: int) -> bytes:
    """Read `count` bytes, or fewer at end of stream, in bounded chunks."""
    parts = []
    remaining = count
    while remaining > 0:
        part = stream.read(min(remaining, CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _parse_header(stream: BinaryIO, where: str) -> tuple[int, ...]:
    """The dimension sizes of an IDX stream, checked; the stream is left at the data."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{where}: too short for an IDX header ({len(magic)} bytes)")
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(f"{where}: not an IDX file (magic starts {magic[:2].hex()}, expected 0000)")
    if magic[2] != UBYTE:
        name = _DTYPE_NAMES.get(magic[2], "unknown")
        raise DataError(
            f"{where}: unsupported IDX data type 0x{magic[2]:02x} ({name}); "
            "only unsigned bytes (0x08) are supported"
        )
    ndim = magic[3]
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(
            f"{where}: IDX header declares {ndim} dimensions (expected 1 to {MAX_NDIM})"
        )
    dims_raw = _read_up_to(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{where}: truncated IDX header (dimension sizes cut off)")
    shape = struct.unpack(f">{ndim}I", dims_raw)
    if 0 in shape:
        raise DataError(f"{where}: IDX dimension {shape.index(0)} is zero (shape {shape})")
    size = math.prod(shape)
    if size > MAX_DATA_BYTES:
        raise DataError(
            f"{where}: IDX shape {shape} promises {size} bytes, over the {MAX_DATA_BYTES}-byte "
            "limit (corrupt header?)"
        )
    return shape


def _parse(stream: BinaryIO, where: str, raw_size: int | None) -> tuple[tuple[int, ...], bytes]:
    """Parse one IDX stream; `raw_size` is the file size for uncompressed files."""
    shape = _parse_header(stream, where)
    size = math.prod(shape)
    header_len = 4 + 4 * len(shape)
    if raw_size is not None:  # uncompressed: check the size before reading anything
        actual = raw_size - header_len
        if actual < size:
            raise DataError(
                f"{where}: truncated: shape {shape} needs {size} data bytes, file has {actual}"
            )
        if actual > size:
            raise DataError(
                f"{where}: {actual - size} bytes of trailing data after the {size} that shape "
                f"{shape} declares"
            )
    data = _read_up_to(stream, size)
    if len(data) < size:
        raise DataError(
            f"{where}: truncated: shape {shape} needs {size} data bytes, file has {len(data)}"
        )
    if stream.read(1):
        raise DataError(
            f"{where}: trailing data after the {size} bytes that shape {shape} declares"
        )
    return shape, data


def _check_regular(path: PathLike, where: str) -> None:
    """A FIFO would block `open` forever and a device never end: only regular files."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(where)
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device node" if (
            stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else "not a regular file"
        raise DataError(f"{where}: is {kind}, not an IDX file")


def read_idx_shape(path: PathLike) -> tuple[int, ...]:
    """The dimension sizes an IDX file (raw or gzip) declares, reading only its header: what
    a caller checks before letting `read_idx` allocate the data."""
    return _read(path, header_only=True)  # type: ignore[return-value]


def read_idx(path: PathLike) -> tuple[tuple[int, ...], bytes]:
    """Read an unsigned-byte IDX file (raw or gzip) and return ``(shape, data)``.

    Raises DataError, naming the file, for a missing, unreadable or non-regular file (a FIFO,
    a device, a directory), corrupt gzip data, a wrong magic number or data type, zero or
    absurd dimensions, truncated data or trailing bytes.
    """
    return _read(path, header_only=False)  # type: ignore[return-value]


def _read(path: PathLike, header_only: bool):
    where = str(path)
    try:
        _check_regular(path, where)
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if not compressed:
                if header_only:
                    return _parse_header(raw, where)
                return _parse(raw, where, os.fstat(raw.fileno()).st_size)
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                if header_only:
                    return _parse_header(stream, where)  # type: ignore[arg-type]
                return _parse(stream, where, None)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a directory, not an IDX file") from None
    except PermissionError:
        raise DataError(f"{where}: permission denied") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{where}: corrupt gzip data ({exc})") from None
    except EOFError:
        raise DataError(f"{where}: truncated gzip data (compressed stream ends early)") from None
    except OSError as exc:
        raise DataError(f"{where}: cannot read ({exc.strerror or exc})") from None


def _check_shape(shape: tuple[int, ...] | list[int], length: int) -> tuple[int, ...]:
    """Validate a shape for writing against the data length; returns it as a tuple of ints."""
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ShapeError(f"IDX shape must be a sequence of integers, got {shape!r}") from None
    if not 1 <= len(dims) <= MAX_NDIM:
        raise ShapeError(f"IDX shape must have 1 to {MAX_NDIM} dimensions, got {dims}")
    if any(not 1 <= d < 1 << 32 for d in dims):
        raise ShapeError(f"IDX dimensions must be between 1 and 2**32 - 1, got {dims}")
    if math.prod(dims) != length:
        raise ShapeError(f"IDX shape {dims} needs {math.prod(dims)} bytes, data has {length}")
    return dims


def write_idx(
    path: PathLike,
    shape: tuple[int, ...] | list[int],
    data: bytes | bytearray | memoryview,
    compress: bool | None = None,
) -> Path:
    """Write `data` (one unsigned byte per element) as an IDX file with dimensions `shape`.

    `compress` None means gzip exactly when the name ends in ``.gz``. The file is written to a
    temporary name in the same directory and renamed into place, so on any error no partial
    file is left and an existing file is untouched. Returns the path written.
    """
    target = Path(path)
    payload = memoryview(data).cast("B")
    dims = _check_shape(shape, len(payload))
    if compress is None:
        compress = target.name.endswith(".gz")
    header = bytes((0, 0, UBYTE, len(dims))) + struct.pack(f">{len(dims)}I", *dims)
    with atomic_output(target) as handle:
        if compress:
            # mtime=0 and no stored name keep the output byte-for-byte reproducible
            with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            handle.write(header)
            handle.write(payload)
    return target


def read_images(path: PathLike) -> tuple[int, int, int, bytes]:
    """Read a 3-D IDX image file: ``(count, rows, cols, pixels)``; DataError if not 3-D."""
    shape, data = read_idx(path)
    if len(shape) != 3:
        raise DataError(f"{path}: expected 3-D images (count, rows, cols), got shape {shape}")
    return shape[0], shape[1], shape[2], data


def read_labels(path: PathLike) -> bytes:
    """Read a 1-D IDX label file and return its bytes; DataError if not 1-D."""
    shape, data = read_idx(path)
    if len(shape) != 1:
        raise DataError(f"{path}: expected 1-D labels, got shape {shape}")
    return data
