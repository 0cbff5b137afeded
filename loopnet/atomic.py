"""Atomic file output: readers see the old file or the complete new one, never a partial one."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, create_parents: bool = False) -> Iterator[BinaryIO]:
    """A binary temporary file beside `path` that replaces `path` when the body succeeds.

    If the body raises, the temporary file is removed and `path` is left as it was.  The file
    gets the permissions a plain `open` would give (mkstemp's are 0600).
    """
    target = Path(path)
    if create_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def write_file_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `data` (str as UTF-8) to `path` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(path) as handle:
        handle.write(payload)
