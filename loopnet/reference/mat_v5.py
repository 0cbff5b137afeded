"""A structural check of MATLAB v5 .mat files, run before scipy.io reads one.

scipy.io.loadmat's C reader (SciPy 1.17) trusts the data-type code in the tag of each element of
numeric or char data and indexes a table with it: a damaged file whose code falls outside the
table (0, 8, 10, 11, 14, 15, 19 and up) crashes the interpreter with a segmentation fault
instead of raising.  `check_mat_v5` walks the element tree first, the way that reader will:
the 128-byte header, each variable (inflating miCOMPRESSED ones, within the memory available),
every cell and struct field inside it.  It raises DataError for an unknown data-type code, an
element that overruns the one holding it, a count of elements that does not match the declared
dimensions, and for the classes loopnet never reads (objects, sparse matrices, function
handles, opaque classes).  Files that scipy.io does not read as v5 (v4, v7.3) are left to it.

Layout (MathWorks, "MAT-File Format"): an element is a tag (type code, byte count: two
uint32; or, for at most 4 bytes, one uint32 with the count in its upper half and the data in
the next 4 bytes) followed by its data, padded to 8 bytes inside a variable.  A variable is an
miMATRIX element holding, in order, array flags (class in the low byte, complex flag 0x800),
dimensions, name, then by class: the real (and imaginary) data, the cells, or a struct's
field-name length, field names and fields.
"""
from __future__ import annotations

import math
import struct
import zlib

from loopnet.errors import DataError
from loopnet.memory import SHARE, available_bytes, format_bytes

HEADER_BYTES = 128
MI_INT32, MI_UINT32, MI_MATRIX, MI_COMPRESSED = 5, 6, 14, 15
# type codes scipy's reader has a dtype for: int8 ... uint32, single, double, int64, uint64, utf*
DATA_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})
MX_CELL, MX_STRUCT, MX_CHAR = 1, 2, 4
MX_NUMERIC = range(6, 16)  # double, single, int8 ... uint64
REFUSED_CLASSES = {3: "a MATLAB object", 5: "a sparse matrix", 16: "a function handle",
                   17: "an opaque MATLAB class object"}
COMPLEX_FLAG = 0x800
MAX_DEPTH = 32  # cells or structs inside cells or structs


class _Walk:
    """The check of one file: its path (for messages) and byte order."""

    def __init__(self, path, order: str) -> None:
        self.path, self.order = path, order

    def damaged(self, reason: str) -> DataError:
        return DataError(f"{self.path}: not a readable .mat file (damaged: {reason})")

    def element(self, data: bytes, pos: int, end: int, full: bool = False
                ) -> tuple[int, int, int, int]:
        """(type code, data start, byte count, position after the padding) of the element at
        `pos`, which must lie before `end`; `full`: a two-word tag is required (variables)."""
        if end - pos < 8:
            raise self.damaged(f"an element tag is cut off at byte {pos}")
        first, second = struct.unpack_from(self.order + "II", data, pos)
        if first >> 16 and not full:  # small element: count in the upper half, data after
            count = first >> 16
            if count > 4:
                raise self.damaged(f"a small element declares {count} bytes (at most 4)")
            return first & 0xFFFF, pos + 4, count, pos + 8
        start = pos + 8
        if second > end - start:
            raise self.damaged(f"an element of {second} bytes overruns what holds it")
        return first, start, second, start + (second + 7) // 8 * 8

    def variable(self, data: bytes, start: int, end: int, depth: int) -> None:
        """The contents data[start:end] of one miMATRIX element."""
        if depth > MAX_DEPTH:
            raise self.damaged(f"cells or structs nested more than {MAX_DEPTH} deep")
        if start == end:
            return  # an empty matrix, written as a tag alone
        items = []
        pos = start
        while pos < end:
            mdtype, body, count, pos = self.element(data, pos, end)
            items.append((mdtype, body, count))
        if len(items) < 3:
            raise self.damaged("a variable lacks its flags, dimensions or name")
        (flags_type, flags_at, flags_len), (dims_type, dims_at, dims_len) = items[:2]
        if flags_type not in (MI_INT32, MI_UINT32) or flags_len != 8:
            raise self.damaged("a variable's array flags are not two 32-bit integers")
        if dims_type not in (MI_INT32, MI_UINT32) or dims_len % 4 or not dims_len:
            raise self.damaged("a variable's dimensions are not 32-bit integers")
        flags = struct.unpack_from(self.order + "I", data, flags_at)[0]
        dims = struct.unpack_from(f"{self.order}{dims_len // 4}i", data, dims_at)
        if min(dims) < 0:
            raise self.damaged(f"negative dimensions {dims}")
        mx_class, rest = flags & 0xFF, items[3:]
        if mx_class in REFUSED_CLASSES:
            raise DataError(f"{self.path}: holds {REFUSED_CLASSES[mx_class]}; loopnet reads "
                            "numeric arrays, strings, cells and structs only")
        if mx_class == MX_CHAR or mx_class in MX_NUMERIC:
            parts = 2 if flags & COMPLEX_FLAG and mx_class != MX_CHAR else 1
            if len(rest) != parts:
                raise self.damaged(f"an array with {len(rest)} data elements, not {parts}")
            for mdtype, _, _ in rest:
                if mdtype not in DATA_TYPES:
                    raise self.damaged(f"array data of unknown type code {mdtype}")
            return
        if mx_class == MX_CELL:
            fields = rest
            expected = math.prod(dims)
        elif mx_class == MX_STRUCT:
            if len(rest) < 2:
                raise self.damaged("a struct lacks its field names")
            (length_type, length_at, length_len), (_, _, names_len) = rest[:2]
            if length_type not in (MI_INT32, MI_UINT32) or length_len != 4:
                raise self.damaged("a struct's field-name length is not a 32-bit integer")
            length = struct.unpack_from(self.order + "i", data, length_at)[0]
            if length < 1 or names_len % length:
                raise self.damaged(f"{names_len} bytes of field names of length {length}")
            fields = rest[2:]
            expected = math.prod(dims) * (names_len // length)
        else:
            raise self.damaged(f"unknown array class {mx_class}")
        if len(fields) != expected:
            raise self.damaged(f"{len(fields)} cells or fields where the dimensions {dims} "
                               f"call for {expected}")
        for mdtype, body, count in fields:
            if mdtype != MI_MATRIX:
                raise self.damaged(f"a cell or field of element type {mdtype}, not a matrix")
            self.variable(data, body, body + count, depth + 1)

    def inflate(self, compressed: bytes) -> bytes:
        """An miCOMPRESSED element's zlib data, refused beyond the memory available."""
        limit = int(SHARE * available_bytes())
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(compressed, limit)
        except zlib.error as exc:
            raise self.damaged(f"a compressed variable does not inflate: {exc}") from None
        if inflater.unconsumed_tail:
            raise DataError(f"{self.path}: a compressed variable inflates to more than "
                            f"{format_bytes(limit)}, more of memory than is available")
        return inflated


def check_mat_v5(data: bytes, path) -> None:
    """Raise DataError (naming `path`) if `data`, a v5 .mat file, would not be read safely."""
    # scipy.io's version test: any zero in the first 4 bytes is v4; else the major version is
    # byte 125 when byte 126 is "I" (little-endian "IM"), byte 124 otherwise; 1 is v5
    if len(data) < HEADER_BYTES or 0 in data[:4]:
        return
    major = data[125] if data[126] == ord("I") else data[124]
    if major != 1:
        return
    walk = _Walk(path, "<" if data[126:128] == b"IM" else ">")
    pos = HEADER_BYTES
    while pos < len(data):
        mdtype, body, count, _ = walk.element(data, pos, len(data), full=True)
        if mdtype == MI_COMPRESSED:
            inflated = walk.inflate(data[body:body + count])
            inner_type, inner, inner_count, _ = walk.element(inflated, 0, len(inflated),
                                                             full=True)
            if inner_type != MI_MATRIX:
                raise walk.damaged(f"a compressed element of type {inner_type}, not a matrix")
            walk.variable(inflated, inner, inner + inner_count, 0)
        elif mdtype == MI_MATRIX:
            walk.variable(data, body, body + count, 0)
        else:
            raise walk.damaged(f"a variable of element type {mdtype}, not a matrix")
        pos = body + count  # variables are not padded
