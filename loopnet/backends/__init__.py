"""Backends run the one kernel source: `python` calls it as written, `numba` compiles it.

A backend owns buffer allocation (lists vs NumPy arrays) and hands out the kernel namespace.
"""

import importlib.util
import platform

from loopnet.backends.python_backend import PythonBackend
from loopnet.cache import configure_numba_cache
from loopnet.errors import BackendError, ConfigError

BACKEND_NAMES = ("auto", "python", "numba")
ON_PYPY = platform.python_implementation() == "PyPy"
NUMBA_ON_PYPY = "the numba backend needs CPython (numba does not run on PyPy): use --backend python"


def numba_available() -> bool:
    """True when numba can be imported (its cache set to loopnet's first, see loopnet.cache).

    Always False on PyPy, where numba does not run (and the `jit` extra installs nothing).
    """
    if ON_PYPY or importlib.util.find_spec("numba") is None:
        return False
    configure_numba_cache()
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def get_backend(name: str = "auto", *, parallel: bool = False):
    """The backend called `name`; "auto" is numba when importable (never on PyPy), else python."""
    if name not in BACKEND_NAMES:
        raise ConfigError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_NAMES)})")
    if name == "auto":
        name = "numba" if numba_available() else "python"
    if name == "python":
        if parallel:
            if ON_PYPY:
                raise ConfigError("parallel mode needs the numba backend, which needs CPython "
                                  "(numba does not run on PyPy)")
            if numba_available():
                raise ConfigError("parallel mode needs the numba backend: --backend numba")
            raise ConfigError("parallel mode needs the numba backend, and numba is not "
                              "installed: pip install loopnet[jit]")
        return PythonBackend()
    if ON_PYPY:
        raise BackendError(NUMBA_ON_PYPY)
    if not numba_available():
        raise BackendError("the numba backend needs numba: pip install loopnet[jit]")
    from loopnet.backends.numba_backend import NumbaBackend

    return NumbaBackend(parallel=parallel)


def backend_of_buffer(buffer):
    """The backend whose kernels suit `buffer`: numba for NumPy arrays when available."""
    if isinstance(buffer, list) or not numba_available():
        return PythonBackend()
    from loopnet.backends.numba_backend import NumbaBackend

    return NumbaBackend()
