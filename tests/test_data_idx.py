"""IDX reader/writer: round trips, strict validation of bad files, atomic writes, cache root."""
from __future__ import annotations

import gzip
import math
import os
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet.cache import cache_root
from loopnet.data import idx
from loopnet.data.idx import read_idx, read_images, read_labels, write_idx
from loopnet.errors import DataError, ShapeError


def header(*dims: int, dtype: int = 0x08, ndim: int | None = None) -> bytes:
    """An IDX header for `dims` (ndim and dtype overridable to build bad files)."""
    count = len(dims) if ndim is None else ndim
    return bytes((0, 0, dtype, count)) + struct.pack(f">{len(dims)}I", *dims)


def put(path: Path, content: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def leftovers(folder: Path) -> list[str]:
    """Temporary files left behind by an interrupted atomic write."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@st.composite
def idx_arrays(draw: st.DrawFn) -> tuple[tuple[int, ...], bytes]:
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    size = math.prod(shape)
    return shape, draw(st.binary(min_size=size, max_size=size))


@settings(max_examples=60, deadline=None)
@given(array=idx_arrays(), compress=st.booleans())
def test_round_trip(array: tuple[tuple[int, ...], bytes], compress: bool) -> None:
    shape, data = array
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.idx"
        assert write_idx(path, shape, data, compress=compress) == path
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
        assert read_idx(path) == (shape, data)


def test_gzip_follows_suffix_unless_told(tmp_path: Path) -> None:
    data = bytes(range(24))
    write_idx(tmp_path / "a.gz", (2, 3, 4), data)
    write_idx(tmp_path / "b", (2, 3, 4), data)
    write_idx(tmp_path / "c.gz", (2, 3, 4), data, compress=False)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b").read_bytes() == header(2, 3, 4) + data
    assert (tmp_path / "c.gz").read_bytes() == header(2, 3, 4) + data
    # compression is detected from the content, not from the name
    for name in ("a.gz", "b", "c.gz"):
        assert read_idx(tmp_path / name) == ((2, 3, 4), data)


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.gz", (5,), b"abcde")
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", (5,), b"abcde")
    assert (tmp_path / "a.gz").read_bytes() == first


def test_write_accepts_bytearray_and_list_shape_and_makes_dirs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "x.idx"
    write_idx(path, [3], bytearray(b"\x00\x01\xff"))
    assert read_idx(path) == ((3,), b"\x00\x01\xff")


def test_reads_official_layout(tmp_path: Path) -> None:
    pixels = bytes(i % 256 for i in range(2 * 28 * 28))
    path = put(tmp_path / "imgs", header(2, 28, 28) + pixels, compress=True)
    assert read_images(path) == (2, 28, 28, pixels)
    labels = put(tmp_path / "labels", header(2) + b"\x07\x02")
    assert read_labels(labels) == b"\x07\x02"


BAD_FILES = [
    ("empty", b"", "too short for an IDX header"),
    ("short magic", b"\x00\x00\x08", "too short for an IDX header"),
    ("wrong magic", b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"x", "not an IDX file"),
    ("float32", header(1, dtype=0x0D) + b"\x00" * 4, r"unsupported IDX data type 0x0d \(float32\)"),
    ("unknown dtype", header(1, dtype=0x42) + b"\x00", r"0x42 \(unknown\)"),
    ("no dims", bytes((0, 0, 8, 0)), "declares 0 dimensions"),
    ("too many dims", header(*([1] * 9)) + b"\x00", "declares 9 dimensions"),
    ("cut header", header(3, 4)[:9], "truncated IDX header"),
    ("zero dim", header(3, 0, 2), r"dimension 1 is zero"),
    ("absurd", header(60000, 60000, 60000), "over the 1073741824-byte limit"),
    ("truncated", header(2, 3) + b"\x00" * 5, "truncated: shape \\(2, 3\\) needs 6 data bytes, file has 5"),
    ("trailing", header(2, 3) + b"\x00" * 8, "trailing data"),
]


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(("content", "message"), [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])
def test_bad_files_raise_data_error(
    tmp_path: Path, content: bytes, message: str, compress: bool
) -> None:
    path = put(tmp_path / "bad.idx", content, compress)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_raw_trailing_bytes_are_counted(tmp_path: Path) -> None:
    path = put(tmp_path / "bad", header(2) + b"\x00\x00junk")
    with pytest.raises(DataError, match="4 bytes of trailing data after the 2"):
        read_idx(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.idx"
    with pytest.raises(DataError, match="no such file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        read_idx(tmp_path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = put(tmp_path / "bad.gz", b"\x1f\x8b" + b"not really deflate data at all")
    with pytest.raises(DataError, match="corrupt gzip data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(header(1000) + os.urandom(1000))
    path = put(tmp_path / "cut.gz", packed[: len(packed) // 2])
    with pytest.raises(DataError, match="truncated gzip data"):
        read_idx(path)


def test_gzip_crc_mismatch(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(header(4) + b"abcd"))
    packed[-8] ^= 0xFF  # first byte of the CRC-32 in the gzip trailer
    path = put(tmp_path / "crc.gz", bytes(packed))
    with pytest.raises(DataError, match="corrupt gzip data.*CRC"):
        read_idx(path)


def test_read_images_and_labels_check_rank(tmp_path: Path) -> None:
    flat = put(tmp_path / "flat", header(4) + b"abcd")
    cube = put(tmp_path / "cube", header(1, 2, 2) + b"abcd")
    with pytest.raises(DataError, match=r"expected 3-D images .* shape \(4,\)"):
        read_images(flat)
    with pytest.raises(DataError, match=r"expected 1-D labels, got shape \(1, 2, 2\)"):
        read_labels(cube)


@pytest.mark.parametrize(
    ("shape", "length", "message"),
    [
        ((2, 3), 5, r"needs 6 bytes, data has 5"),
        ((0, 3), 0, "between 1 and 2\\*\\*32 - 1"),
        ((), 0, "1 to 8 dimensions"),
        ((1,) * 9, 1, "1 to 8 dimensions"),
        (("a",), 1, "sequence of integers"),
    ],
)
def test_write_rejects_bad_shapes_without_leaving_files(
    tmp_path: Path, shape: tuple, length: int, message: str
) -> None:
    with pytest.raises(ShapeError, match=message):
        write_idx(tmp_path / "x.idx.gz", shape, b"\x00" * length)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keep.idx.gz"
    write_idx(path, (3,), b"old")
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(idx.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_idx(path, (3,), b"new")
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "never.idx"
    with pytest.raises(RuntimeError), idx.atomic_output(path) as handle:
        handle.write(b"partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_cache_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LOOPNET_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == tmp_path / "home" / ".cache" / "loopnet"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "loopnet"
    monkeypatch.setenv("LOOPNET_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
