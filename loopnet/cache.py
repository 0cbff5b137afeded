"""loopnet's user cache: downloaded and generated data, and Numba's compiled kernels.

Nothing is ever cached inside the installed package: a non-editable install that left compiled
kernels in ``site-packages/loopnet/`` made that folder shadow a later editable install.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

NUMBA_CACHE_ENV = "NUMBA_CACHE_DIR"
_NOTED_ENV = "LOOPNET_NUMBA_CACHE_NOTED"
_CACHE_DISABLED = [False]  # set once no cache directory at all can be written


def cache_root(cache_dir: PathLike | None = None) -> Path:
    """Root of loopnet's cache.

    `cache_dir` when given, else ``$LOOPNET_CACHE``, else ``$XDG_CACHE_HOME/loopnet``, else
    ``~/.cache/loopnet``. The directory is not created here.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("LOOPNET_CACHE"):
        return Path(os.environ["LOOPNET_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "loopnet"
    return Path.home() / ".cache" / "loopnet"


def _writable_directory(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _note_once(message: str) -> None:
    """One ``loopnet: warning:`` line per run: child processes (the background compile) inherit
    the environment variable and stay quiet."""
    if os.environ.get(_NOTED_ENV):
        return
    os.environ[_NOTED_ENV] = "1"
    print(f"loopnet: warning: {message}", file=sys.stderr, flush=True)


def _guard_cache_writes(numba_module) -> None:
    """Make a failed cache write (full disk, read-only or vanished directory) skip caching
    that function, with one note, instead of failing the compile with an OSError."""
    caching = numba_module.core.caching
    if getattr(caching.Cache.save_overload, "_loopnet_guarded", False):
        return
    save = caching.Cache.save_overload

    def save_overload(self, sig, data):
        try:
            save(self, sig, data)
        except OSError as exc:
            _note_once(f"cannot write the compiled-kernel cache {self.cache_path} "
                       f"({exc.strerror or exc}); compiling without caching")

    save_overload._loopnet_guarded = True
    caching.Cache.save_overload = save_overload


def _disable_caching(numba_module) -> None:
    """``njit(cache=True)`` compiles without any cache from now on (no writable place)."""
    numba_module.core.dispatcher.Dispatcher.enable_caching = lambda self: None


def configure_numba_cache() -> Path | None:
    """Point Numba's cache at ``<cache root>/numba`` (unless ``$NUMBA_CACHE_DIR`` is set).

    Call before the first ``njit(cache=True)``: Numba picks a function's cache directory when the
    function is decorated.  Sets the environment variable too, so child processes (the background
    compile) share the cache.  When the directory cannot be written, compiled kernels go to a
    private temporary directory (nothing persists), and when that fails too they are compiled
    without a cache; a cache write that fails later (a full disk) skips caching.  Each case
    gives one ``loopnet: warning:`` line, never beside the package's sources and never an error.
    Returns the directory used, or None when compiling without a cache.
    """
    chosen = os.environ.get(NUMBA_CACHE_ENV)
    directory: Path | None = Path(chosen) if chosen else cache_root() / "numba"
    if not _writable_directory(directory):
        try:
            fallback: Path | None = Path(tempfile.mkdtemp(prefix="loopnet-numba-"))
        except OSError:
            fallback = None
        _note_once(f"cannot write the compiled-kernel cache {directory}; compiling without a "
                   f"lasting cache (set ${NUMBA_CACHE_ENV} or $LOOPNET_CACHE)")
        directory = fallback
    numba_module = sys.modules.get("numba")
    if directory is None:
        _CACHE_DISABLED[0] = True
    else:
        os.environ[NUMBA_CACHE_ENV] = str(directory)
        if numba_module is not None:
            numba_module.config.CACHE_DIR = str(directory)
    if numba_module is not None:
        _guard_cache_writes(numba_module)
        if _CACHE_DISABLED[0]:
            _disable_caching(numba_module)
    return directory
