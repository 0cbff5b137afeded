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


def configure_numba_cache() -> Path:
    """Point Numba's cache at ``<cache root>/numba`` (unless ``$NUMBA_CACHE_DIR`` is set).

    Call before the first ``njit(cache=True)``: Numba picks a function's cache directory when the
    function is decorated.  Sets the environment variable too, so child processes (the background
    compile) share the cache.  When the directory cannot be written, compiled kernels go to a
    private temporary directory (nothing persists; one ``loopnet: warning:`` line says so),
    never beside the package's sources.
    """
    chosen = os.environ.get(NUMBA_CACHE_ENV)
    directory = Path(chosen) if chosen else cache_root() / "numba"
    if not _writable_directory(directory):
        fallback = Path(tempfile.mkdtemp(prefix="loopnet-numba-"))
        print(f"loopnet: warning: cannot write the compiled-kernel cache {directory}; "
              f"compiling without a lasting cache (set ${NUMBA_CACHE_ENV} or $LOOPNET_CACHE)",
              file=sys.stderr)
        directory = fallback
    os.environ[NUMBA_CACHE_ENV] = str(directory)
    numba_module = sys.modules.get("numba")
    if numba_module is not None:
        numba_module.config.CACHE_DIR = str(directory)
    return directory
