"""Compiled kernels are cached under loopnet's cache directory, never inside the package."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import loopnet

PACKAGE = Path(loopnet.__file__).resolve().parent

COMPILE_PROGRAM = """
from loopnet.backends import get_backend
import loopnet.cache, os, sys
backend = get_backend("numba")
k = backend.kernels
buf = backend.float_buffer([1.0, -2.0])
k.relu_forward(buf, backend.zeros(2), 2)
print(os.environ["NUMBA_CACHE_DIR"])
"""


def _numba_index_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.nbi"))


@pytest.mark.numba_required
def test_compiled_kernels_go_to_the_loopnet_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["LOOPNET_CACHE"] = str(tmp_path / "cache")
    before = _numba_index_files(PACKAGE)
    done = subprocess.run([sys.executable, "-c", COMPILE_PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "cache" / "numba")
    assert _numba_index_files(tmp_path / "cache" / "numba"), "nothing was cached"
    assert _numba_index_files(PACKAGE) == before, "a cache file was written inside the package"


@pytest.mark.numba_required
def test_unwritable_cache_compiles_without_caching_and_says_so(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["LOOPNET_CACHE"] = str(blocker)
    before = _numba_index_files(PACKAGE)
    done = subprocess.run([sys.executable, "-c", COMPILE_PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("loopnet: warning:")]
    assert len(warnings) == 1 and "compiled-kernel cache" in warnings[0], done.stderr
    assert "Traceback" not in done.stderr
    assert _numba_index_files(PACKAGE) == before
