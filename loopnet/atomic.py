"""Atomic file output: readers see the old file or the complete new one, never a partial one.

On Linux the bytes go to an unnamed file (``O_TMPFILE``) in the target's directory, which the
kernel frees if the process dies, even by SIGKILL; only once complete and synced is it given a
name.  A new target is that name itself: linking fails if the name exists, so no temporary
name is ever needed.  An existing target is replaced the only way Linux can replace a file
atomically: the file is linked under a temporary name, then renamed over the target (there is
no link-and-replace call).  Where ``O_TMPFILE`` is missing the file is written under that
temporary name from the start.  Temporary names are ``.loopnet-<pid>-<random>.tmp``; each
write removes those of processes that no longer exist (SIGKILL runs no clean-up), so at most
the complete new file of a write killed between its link and its rename survives, and only
until the next write into that directory.  It also removes the target's temporaries of the
naming of earlier versions' writer, ``.<name>.<8 random characters>.tmp`` (``tempfile.mkstemp``:
no pid to test), once they are an hour old: a write in progress renews its file's time.

Before anything is written the target is checked: a symbolic link, a device node, a FIFO, a
directory or a read-only file is refused rather than replaced by a regular file, and so is a
name longer than the file system allows.  Every OSError becomes one `OutputFileError` naming
the path and the reason (``No space left on device``, ``Read-only file system``, ...).
"""
from __future__ import annotations

import contextlib
import errno
import os
import platform
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Union

from loopnet.errors import OutputFileError

PathLike = Union[str, "os.PathLike[str]"]

TEMP_PREFIX = ".loopnet-"
_TEMP_NAME = re.compile(r"\.loopnet-(\d+)-[0-9a-f]{12}(?:\.tmp|\.d)$")
# the earlier writer's tempfile.mkstemp(prefix=".<name>.", suffix=".tmp"): 8 characters of
# tempfile's alphabet, no pid; stale once not modified for this long
_MKSTEMP_TOKEN = "[a-z0-9_]{8}"
LEGACY_STALE_SECONDS = 3600


def _o_tmpfile() -> int:
    """os.O_TMPFILE; where the runtime does not define it (PyPy 3.9), Linux's value from
    <fcntl.h>: __O_TMPFILE (0o20000000 on every architecture but alpha, parisc and sparc) |
    O_DIRECTORY.  A kernel without it refuses the open and the named temporary is used."""
    if hasattr(os, "O_TMPFILE"):
        return os.O_TMPFILE
    if sys.platform.startswith("linux") and not platform.machine().startswith(
            ("alpha", "parisc", "sparc")):
        return 0o20000000 | os.O_DIRECTORY
    return 0


_O_TMPFILE = _o_tmpfile()
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_AT_FDCWD, _AT_EMPTY_PATH = -100, 0x1000  # Linux <fcntl.h>
_ST_RDONLY = getattr(os, "ST_RDONLY", 1)  # PyPy 3.9's os lacks it; 1 on Linux and the BSDs
_NO_LINK_DEVICES: set[int] = set()  # file systems where an O_TMPFILE file could not be linked
# errors of writing the handle, as opposed to whatever else the body of atomic_output does
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG, errno.EACCES,
                 errno.EPERM, errno.ENAMETOOLONG, errno.EBADF}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _temp_name(suffix: str = ".tmp") -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(directory: PathLike, target: str | None = None) -> int:
    """Delete loopnet's own temporary files/directories in `directory` whose writer is gone.

    Returns how many were removed.  Only names of the form ``.loopnet-<pid>-<12 hex>.tmp``
    (or ``.d`` for directories) are touched, and only when no process `pid` exists.  With the
    file name `target`, also the regular files ``.<target>.<8 characters>.tmp`` that earlier
    versions' writer left, when not modified for LEGACY_STALE_SECONDS.
    """
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    legacy = (re.compile(rf"\.{re.escape(target)}\.{_MKSTEMP_TOKEN}\.tmp$") if target
              else None)
    now = time.time()
    for name in names:
        path = os.path.join(directory, name)
        match = _TEMP_NAME.match(name)
        if match is None:
            if legacy is not None and legacy.match(name):
                with contextlib.suppress(OSError):
                    info = os.lstat(path)
                    if stat.S_ISREG(info.st_mode) and now - info.st_mtime > LEGACY_STALE_SECONDS:
                        os.unlink(path)
                        removed += 1
            continue
        if _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if name.endswith(".d"):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed += 1
    return removed


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_target(path: PathLike, inputs: Iterable[PathLike] = (),
                        what: str | None = None) -> None:
    """Refuse, with one `OutputFileError`, an output path that loopnet must not write.

    Refused: an empty name, a missing directory, a name too long for the file system, a
    directory without write permission or on a read-only file system, and an existing
    symbolic link, device node, FIFO, socket, directory, read-only file or any of `inputs`
    (the files or directories the command reads).  `what` prefixes the message (a flag name).
    """
    label = f"{what} {path}" if what else f"cannot write {path}"
    text = os.fspath(path)
    if text == "":
        raise OutputFileError(f"{what or 'output'}: empty file name")
    target = Path(text)
    directory = target.parent
    limit = _name_max(directory) if directory.is_dir() else 255
    if len(os.fsencode(target.name)) > limit:
        raise OutputFileError(f"{label}: file name is {len(os.fsencode(target.name))} bytes, "
                              f"longer than the file system allows ({limit})")
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise OutputFileError(f"{label}: {directory} is not a directory") from None
        raise OutputFileError(f"{label}: {_reason(exc)}") from None
    if info is not None:
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            raise OutputFileError(f"{label} is a symbolic link (loopnet replaces files, not "
                                  f"links: give the path it points to, {os.path.realpath(text)})")
        if stat.S_ISDIR(mode):
            raise OutputFileError(f"{label} is a directory")
        if not stat.S_ISREG(mode):
            kind = ("a device node" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file")
            raise OutputFileError(f"{label} is {kind}; loopnet writes only regular files")
        if mode & 0o222 == 0 or not os.access(target, os.W_OK):
            raise OutputFileError(f"{label} is read-only (chmod u+w it, or choose another name)")
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise OutputFileError(f"{label} is also an input of this command; "
                                  "writing it would destroy the input")
    if not directory.is_dir():
        if directory.exists():
            raise OutputFileError(f"{label}: {directory} is not a directory")
        raise OutputFileError(f"{label}: directory {directory} does not exist")
    try:
        read_only = bool(os.statvfs(directory).f_flag & _ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise OutputFileError(f"{label}: {directory} is on a read-only file system")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputFileError(f"{label}: directory {directory} is not writable")


def _same_file(target: Path, source: Path) -> bool:
    """True if `target` and `source` name the same existing file (hard links included)."""
    try:
        return os.path.samefile(target, source)
    except OSError:
        return False


def _open_unnamed(directory: Path) -> int | None:
    """An O_TMPFILE descriptor in `directory`, or None where the system has none (or where
    linking one failed before)."""
    if not _O_TMPFILE:
        return None
    with contextlib.suppress(OSError):
        if os.stat(directory).st_dev in _NO_LINK_DEVICES:
            return None
    try:
        return os.open(directory, _O_TMPFILE | os.O_RDWR | _O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None  # this file system (or kernel) cannot: use a named temporary
        raise


def _libc():
    try:
        import ctypes
        import ctypes.util

        return ctypes, ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except (ImportError, OSError, AttributeError):
        return None, None


def _link_unnamed(fd: int, name: Path) -> bool:
    """Give the O_TMPFILE file `fd` the name `name`, which must not exist (FileExistsError):
    linkat(AT_EMPTY_PATH) (needs CAP_DAC_READ_SEARCH), else through /proc/self/fd.  False
    when neither can link it here."""
    ctypes, libc = _libc()
    if libc is not None and hasattr(libc, "linkat"):
        if libc.linkat(fd, b"", _AT_FDCWD, os.fsencode(name), _AT_EMPTY_PATH) == 0:
            return True
        if ctypes.get_errno() == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(name))
    try:
        os.link(f"/proc/self/fd/{fd}", name)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _copy_unnamed(fd: int, temp: Path) -> None:
    """Copy the O_TMPFILE file `fd` into the new file `temp` (where it cannot be linked), and
    remember its file system, to write a named temporary at once next time."""
    with contextlib.suppress(OSError):
        _NO_LINK_DEVICES.add(os.fstat(fd).st_dev)
    out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            view = memoryview(block)
            while view:
                view = view[os.write(out, view):]
        os.fsync(out)
    finally:
        os.close(out)


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: PathLike, *, create_parents: bool = False,
                  inputs: Iterable[PathLike] = ()) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` when the body succeeds (see the module docstring).

    If the body raises, nothing is left behind and `path` is as it was.  The file gets the
    permissions a plain `open` would give.  Raises OutputFileError for a refused target
    (`check_output_target`) and for any OS error while writing.
    """
    if os.fspath(path) == "":
        raise OutputFileError("output: empty file name")
    target = Path(path)
    if create_parents:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFileError(f"cannot write {path}: cannot create {target.parent}: "
                                  f"{_reason(exc)}") from None
    check_output_target(target, inputs)
    directory = target.parent
    remove_stale_temporaries(directory, target.name)
    temp = directory / _temp_name()
    named = in_body = linked = False
    try:
        fd = _open_unnamed(directory)
        if fd is None:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
            named = True
        with os.fdopen(fd, "wb") as handle:
            in_body = True
            yield handle
            in_body = False
            handle.flush()
            os.fsync(handle.fileno())
            if named:
                os.chmod(temp, 0o666 & ~_umask())
            else:
                with contextlib.suppress(FileExistsError):  # a new target: its own name
                    linked = _link_unnamed(fd, target)
                if not linked:
                    named = True  # from here on a name may exist: remove it on failure
                    if not _link_unnamed(fd, temp):
                        _copy_unnamed(fd, temp)
        if not linked:
            os.replace(temp, target)
            named = False
        _sync_directory(directory)
    except OSError as exc:
        if isinstance(exc, OutputFileError) or (in_body and exc.errno not in _WRITE_ERRNOS):
            raise  # the body's own failure (a download's HTTP error, ...), not a write fault
        raise OutputFileError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if named:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def write_file_atomic(path: PathLike, data: bytes | str, *,
                      inputs: Iterable[PathLike] = ()) -> None:
    """Write `data` (str as UTF-8) to `path` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(path, inputs=inputs) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """A fresh temporary directory beside `path` that becomes `path` when the body succeeds.

    Readers see the old directory or the complete new set, never a partial one.  An existing
    `path` is replaced (it must be a directory: anything else is refused); if the body raises,
    the temporary directory is removed and `path` is untouched.
    """
    target = Path(path)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputFileError(f"cannot write {path}: it exists and is not a directory")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"cannot create {path}: {_reason(exc)}") from None
    remove_stale_temporaries(parent)
    temp = parent / _temp_name(".d")
    old = parent / _temp_name(".d")
    try:
        os.mkdir(temp)
        os.chmod(temp, 0o777 & ~_umask())
        try:
            yield temp
        except OutputFileError as exc:  # name the directory asked for, not the staging one
            raise OutputFileError(str(exc).replace(str(temp), str(target))) from None
        if target.exists():
            os.rename(target, old)
        try:
            os.rename(temp, target)
        except OSError:
            if old.exists():
                os.rename(old, target)
            raise
        _sync_directory(parent)
    except OSError as exc:
        if isinstance(exc, OutputFileError):
            raise
        raise OutputFileError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        for leftover in (temp, old):
            with contextlib.suppress(OSError):
                shutil.rmtree(leftover)
