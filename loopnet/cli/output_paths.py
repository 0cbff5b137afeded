"""Checks of a command's output paths before its work starts: a run must not train for an hour
and then fail to write its results."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from loopnet.cli.common import check_writable
from loopnet.errors import ConfigError

# atomic_output writes ".<name>.<8 random characters>.tmp" beside the target first
TEMPORARY_NAME_EXTRA = len("..") + 8 + len(".tmp")
DEFAULT_NAME_MAX = 255


def name_max(directory: Path) -> int:
    """The longest file name (in bytes) `directory`'s file system allows."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


def check_output(path: str, flag: str, atomic: bool = True) -> None:
    """ConfigError unless `path` can be created or replaced: its directory exists and is
    writable, it is not a directory nor a read-only file, and its name (and, for an atomic
    write, its temporary file's) fits the file system."""
    check_writable(path, flag)
    target = Path(path)
    limit = name_max(target.parent) - (TEMPORARY_NAME_EXTRA if atomic else 0)
    if len(os.fsencode(target.name)) > limit:
        raise ConfigError(f"{flag}: the file name {target.name[:40]}… is "
                          f"{len(os.fsencode(target.name))} bytes long; at most {limit} fit here")
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
