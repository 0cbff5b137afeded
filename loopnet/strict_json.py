"""Strict JSON for loopnet's files (models, imports, conformance cases and results).

Python's `json` accepts NaN and Infinity, integers of any length and nesting until the
interpreter's recursion limit; loopnet's files never need any of that.  `loads` rejects them
with one `LoopnetError` naming the file, and the checkers below refuse a JSON value of the
wrong type — ``"0.5"``, ``true`` or ``1.0`` where an integer or a number belongs — instead of
letting Python coerce it.
"""
from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Collection
from typing import Any

from loopnet.errors import LoopnetError, ModelFileError
from loopnet.memory import require_memory

MAX_INT_DIGITS = 20  # every integer loopnet writes fits in 64 bits
# JSON text costs about this many bytes of Python objects per byte of text (a list of floats
# written in shortest form: ~19 bytes of text, a 32-byte float object plus an 8-byte pointer).
JSON_EXPANSION = 4


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a float64")
    return value


def loads(text: str, where: str, error: type[LoopnetError] = ModelFileError) -> Any:
    """Parse `text` strictly; `error` (naming `where`) for anything not plain finite JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          parse_float=_parse_float)
    except RecursionError:
        raise error(f"{where} is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError included
        raise error(f"{where} is not valid JSON: {exc}") from None


def regular_file_size(path: str | os.PathLike, what: str,
                      error: type[LoopnetError] = ModelFileError) -> int:
    """The size of `path`, which must be an existing regular file (not a FIFO, a device such
    as /dev/zero, or a directory: reading those blocks or never ends)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"cannot read {what} {path}: no such file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode)
                else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device node" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "not a regular file")
        raise error(f"cannot read {what} {path}: it is {kind}, not a regular file")
    return info.st_size


def read(path: str | os.PathLike, what: str, error: type[LoopnetError] = ModelFileError) -> Any:
    """Read and strictly parse the JSON file `path` (`what` names it in messages)."""
    size = regular_file_size(path, what, error)
    require_memory(JSON_EXPANSION * size, f"reading {what} {path} ({size} bytes)", error)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 JSON") from None
    return loads(text, f"{what} {path}", error)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{json.dumps(value[:20])} (a string)"
    if value is None:
        return "null"
    return f"{type(value).__name__}"


def integer(value: Any, where: str, error: type[LoopnetError] = ModelFileError,
            minimum: int | None = None) -> int:
    """`value` if it is a JSON integer (not a boolean, not 1.0) ≥ `minimum`, else `error`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(f"{where} must be an integer, got {_kind(value)}")
    if minimum is not None and value < minimum:
        raise error(f"{where} must be at least {minimum}, got {value}")
    return value


def number(value: Any, where: str, error: type[LoopnetError] = ModelFileError) -> float:
    """`value` as a float if it is a JSON number (not a boolean or a string), else `error`."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise error(f"{where} must be a number, got {_kind(value)}")
    return float(value)


def string(value: Any, where: str, choices: Collection[str] | None = None,
           error: type[LoopnetError] = ModelFileError) -> str:
    """`value` if it is a string (one of `choices` when given), else `error`."""
    if not isinstance(value, str):
        raise error(f"{where} must be a string, got {_kind(value)}")
    if choices is not None and value not in choices:
        raise error(f"{where} is {value!r}, not one of {', '.join(choices)}")
    return value


def numbers(values: Any, where: str, length: int,
            error: type[LoopnetError] = ModelFileError) -> list:
    """`values` if it is a list of exactly `length` JSON numbers (no booleans, no strings)."""
    if not isinstance(values, list):
        raise error(f"{where} must be a list of {length} numbers, got {_kind(values)}")
    if len(values) != length:
        raise error(f"{where} has {len(values)} numbers, expected {length}")
    for i, v in enumerate(values):
        if type(v) is not float and (type(v) is not int):  # exact types: bool is excluded
            raise error(f"{where}[{i}] must be a number, got {_kind(v)}")
    return values


def matrix(values: Any, where: str, rows: int, cols: int,
           error: type[LoopnetError] = ModelFileError) -> list:
    """`values` if it is `rows` lists of `cols` JSON numbers each."""
    if not isinstance(values, list) or len(values) != rows:
        got = f"{len(values)} rows" if isinstance(values, list) else _kind(values)
        raise error(f"{where} must be {rows} rows of {cols} numbers, got {got}")
    for r, row in enumerate(values):
        numbers(row, f"{where}[{r}]", cols, error)
    return values
