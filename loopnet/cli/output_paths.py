"""Checks of a command's output paths before its work starts: a run must not train for an hour
and then fail to write its results."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from loopnet.cli.common import check_writable
from loopnet.errors import ConfigError


def check_output(path: str, flag: str) -> None:
    """ConfigError unless `path` can be created or replaced: its directory exists and is
    writable, its name fits the file system (both checked by check_writable), and it is not
    a read-only file."""
    check_writable(path, flag)
    target = Path(path)
    # the mode bits too: for root, os.access says yes to a 0444 file
    if target.exists() and not (os.access(target, os.W_OK) and os.stat(target).st_mode & 0o222):
        raise ConfigError(f"{flag} {path} is read-only; remove it or choose another name")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when the two paths name one file (the same path, or links to one file)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_distinct(outputs: Iterable[tuple[str, str]], inputs: Iterable[tuple[str, str]]) -> None:
    """ConfigError if two (flag, path) outputs name one file, or an output names an input."""
    outputs, inputs = list(outputs), list(inputs)
    for n, (flag, path) in enumerate(outputs):
        for other_flag, other in outputs[:n]:
            if same_file(path, other):
                raise ConfigError(f"{other_flag} and {flag} both name {path}: give each its own file")
        for what, source in inputs:
            if same_file(path, source):
                raise ConfigError(f"{flag} {path} is {what}: it would be overwritten")
