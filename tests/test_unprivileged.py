"""Permission denied for real: the CLI run by a user who may not write the target directory.

The rest of the suite runs as root, for whom the kernel never refuses a write, so EACCES is
injected there.  Here `loopnet` runs in a subprocess as 'nobody' (uid 65534) when the tests
run as root, or as the current user otherwise, against a directory that user cannot write.
The interpreter must be one that user can run and the package one it can read: the first of
this test's Python and the system's python3 that imports loopnet from the worktree (or from a
world-readable copy of it) is used; the python backend needs nothing else.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from loopnet import MultiLayerNet
from loopnet.model_io import save_model

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534


def _user_ids() -> tuple[int, int] | None:
    """(uid, gid) to run as: nobody's when root, else None (this user, already unprivileged)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwuid(NOBODY)
    except KeyError:
        pytest.skip("running as root, and there is no user 65534 (nobody) to switch to")
    return entry.pw_uid, entry.pw_gid


class Unprivileged:
    """Runs `loopnet ARGV` as the unprivileged user in a world-readable scratch directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.ids = _user_ids()
        self.home = self.writable("home")
        self.python, self.path = self._interpreter()

    def writable(self, name: str) -> Path:
        """A directory the unprivileged user can write."""
        folder = self.base / name
        folder.mkdir()
        folder.chmod(0o777)
        return folder

    def locked(self, name: str) -> Path:
        """A directory the unprivileged user can read but not write."""
        folder = self.base / name
        folder.mkdir()
        folder.chmod(0o555)
        return folder

    def run(self, argv: list[str], cache: Path) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": self.path,
               "LOOPNET_CACHE": str(cache), "HOME": str(self.home),
               "NUMBA_CACHE_DIR": str(self.home / "numba"), "LC_ALL": "C.UTF-8"}
        user = {} if self.ids is None else {"user": self.ids[0], "group": self.ids[1],
                                            "extra_groups": []}
        return subprocess.run([self.python, "-m", "loopnet", *map(str, argv)], env=env,
                              capture_output=True, text=True, timeout=300, cwd=self.home,
                              **user)

    def _interpreter(self) -> tuple[str, str]:
        candidates = [sys.executable, shutil.which("python3"), "/usr/bin/python3"]
        pythons = list(dict.fromkeys(p for p in candidates if p and os.path.exists(p)))
        for source in (str(REPO), None):
            if source is None:  # the worktree is not readable to that user: a readable copy
                copy = self.base / "src"
                shutil.copytree(REPO / "loopnet", copy / "loopnet",
                                ignore=shutil.ignore_patterns("__pycache__"))
                for folder, _, files in os.walk(self.base / "src"):
                    os.chmod(folder, 0o755)
                    for name in files:
                        os.chmod(os.path.join(folder, name), 0o644)
                source = str(copy)
            for python in pythons:
                if self._imports(python, source):
                    return python, source
        pytest.skip(f"none of {pythons} can import loopnet as the unprivileged user")

    def _imports(self, python: str, source: str) -> bool:
        user = {} if self.ids is None else {"user": self.ids[0], "group": self.ids[1],
                                            "extra_groups": []}
        try:
            done = subprocess.run([python, "-c", "import loopnet.cli"], capture_output=True,
                                  env={"PYTHONPATH": source, "HOME": str(self.home)},
                                  cwd=self.home, timeout=120, **user)
        except OSError:  # the interpreter itself is out of that user's reach
            return False
        return done.returncode == 0


@pytest.fixture(scope="module")
def unprivileged():
    base = Path(tempfile.mkdtemp(prefix="loopnet-unprivileged-"))
    base.chmod(0o755)
    try:
        yield Unprivileged(base)
    finally:
        for folder, _, _ in os.walk(base):
            os.chmod(folder, 0o755)
        shutil.rmtree(base)


def _assert_refused(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("loopnet: error: "), done
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def _leftovers(base: Path) -> list[str]:
    return [str(path) for path in base.rglob("*") if path.name.startswith((".loopnet-", ".m."))]


def test_train_save_into_an_unwritable_directory(unprivileged):
    locked = unprivileged.locked("train-locked")
    cache = unprivileged.writable("train-cache")
    done = unprivileged.run(["train", "--backend", "python", "--iters", "1", "--limit", "50",
                             "--hidden", "3", "--quiet", "--save", locked / "m.json"], cache)
    _assert_refused(done, "--save", str(locked), "not writable")
    assert list(locked.iterdir()) == [] and _leftovers(unprivileged.base) == []


def test_export_into_an_unwritable_directory(unprivileged):
    models = unprivileged.writable("export-model")
    save_model(MultiLayerNet([4, 3, 2], seed=1), models / "m.json")
    (models / "m.json").chmod(0o644)
    locked = unprivileged.locked("export-locked")
    done = unprivileged.run(["export", "--model", models / "m.json", locked / "w.json"],
                            unprivileged.writable("export-cache"))
    _assert_refused(done, str(locked / "w.json"), "not writable")
    assert list(locked.iterdir()) == [] and _leftovers(unprivileged.base) == []


def test_replacing_a_file_that_user_cannot_write_is_refused(unprivileged):
    """In a directory the user may write, a file it may not (root's 0644) is not replaced,
    though the directory would let a rename do it."""
    if unprivileged.ids is None:
        pytest.skip("as its owner the current user may write the file")
    folder = unprivileged.writable("export-over")
    save_model(MultiLayerNet([4, 3, 2], seed=1), folder / "m.json")
    (folder / "m.json").chmod(0o644)
    (folder / "w.json").write_text("root's file")
    (folder / "w.json").chmod(0o644)
    done = unprivileged.run(["export", "--model", folder / "m.json", folder / "w.json"],
                            unprivileged.writable("over-cache"))
    _assert_refused(done, str(folder / "w.json"), "read-only")
    assert (folder / "w.json").read_text() == "root's file"
    assert sorted(p.name for p in folder.iterdir()) == ["m.json", "w.json"]


def test_unwritable_data_cache_is_one_warning_and_the_run_goes_on(unprivileged):
    """The synthetic set cannot be cached: one `loopnet: warning:` line, the data generated in
    memory, the run completes, and nothing is left in the cache directory."""
    cache = unprivileged.locked("cache-locked")
    done = unprivileged.run(["train", "--backend", "python", "--iters", "1", "--limit", "50",
                             "--hidden", "3", "--quiet"], cache)
    assert done.returncode == 0, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("loopnet: warning: "), done
    assert "could not cache synthetic data" in done.stderr and "Permission denied" in done.stderr
    assert "Traceback" not in done.stderr and "done:" in done.stdout
    assert list(cache.iterdir()) == [] and _leftovers(unprivileged.base) == []
