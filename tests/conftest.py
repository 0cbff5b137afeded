"""Shared fixtures: where the ../shared data lives, and skipping when numba is missing."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA_ENV = "LOOPNET_SHARED_DATA"


def shared_data_root() -> Path:
    """``$LOOPNET_SHARED_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get(SHARED_DATA_ENV) or REPO.parent / "shared" / "data")


NUMBA_MISSING = "numba is not installed (pip install loopnet[jit])"


def have_numba() -> bool:
    """True when numba can be imported (the library's own test of it)."""
    from loopnet.backends import numba_available

    return numba_available()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "numba_required: needs the numba backend; skipped when numba is not importable"
    )


def pytest_runtest_setup(item):
    """Skip helper: tests marked `numba_required` skip with a reason when numba is missing."""
    if item.get_closest_marker("numba_required") is not None and not have_numba():
        pytest.skip(NUMBA_MISSING)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory; skips the test when it is absent."""
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set {SHARED_DATA_ENV})")
    return root


@pytest.fixture(scope="session")
def mnist_split_dir(shared_data: Path) -> Path:
    """The real-MNIST four-file split (8000 train / 2000 test); skips when absent."""
    folder = shared_data / "mnist-t10k-split"
    if not folder.is_dir():
        pytest.skip(f"real MNIST split not found at {folder} (set {SHARED_DATA_ENV})")
    return folder


@pytest.fixture(scope="session")
def synthetic_cache(tmp_path_factory) -> Path:
    """A private loopnet cache root holding the default synthetic set, generated once.

    Tests that run `loopnet train`/`evaluate` on the default synthetic data point
    ``$LOOPNET_CACHE`` here, so they never read or write the user's own cache.
    """
    from loopnet.data import synthetic_dataset

    root = tmp_path_factory.mktemp("loopnet-cache")
    synthetic_dataset(seed=0, cache_dir=root)
    return root


@pytest.fixture(scope="session")
def numba_backend():
    """The compiled backend; skips the test when numba is not importable."""
    if not have_numba():
        pytest.skip(NUMBA_MISSING)
    from loopnet.backends import get_backend

    return get_backend("numba")


@pytest.fixture
def private_cache(monkeypatch, synthetic_cache):
    """$LOOPNET_CACHE pointed at the session's pre-filled synthetic cache (never the user's)."""
    monkeypatch.setenv("LOOPNET_CACHE", str(synthetic_cache))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
