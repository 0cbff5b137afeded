"""Write faults: a full disk, a read-only file system, a name too long, no permission, and
targets that must not be replaced give one line and exit 2, leave the old file as it was and
leave no temporary behind (also after SIGKILL)."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import HAVE_NUMPY, assert_one_line_error, run

from loopnet import MultiLayerNet, OutputFileError
from loopnet.atomic import atomic_directory, remove_stale_temporaries, write_file_atomic
from loopnet.cli import main
from loopnet.model_io import save_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("private_cache")
ERRNOS = [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.ENAMETOOLONG, errno.EDQUOT, errno.EIO]


def _mount_tmpfs(where: Path, options: str) -> Path:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'}); "
                    "the same faults are covered by injection below")
    return where


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs with 60 KiB taken by `filler`: every output overflows it (ENOSPC)."""
    where = _mount_tmpfs(tmp_path / "full", "size=64k")
    (where / "filler").write_bytes(b"x" * (60 << 10))
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only_fs(tmp_path):
    where = _mount_tmpfs(tmp_path / "ro", "size=64k,ro")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.json"
    save_model(MultiLayerNet([784, 40, 10], seed=1), path)  # ~400 kB: overflows 64 KiB
    return path


def _commands(target: Path, model: Path, weights: Path):
    """Each writing command, writing `target` (a file, or a directory for conformance)."""
    return {
        "train --save": ["train", "--backend", "python", "--iters", "1", "--limit", "50",
                         "--hidden", "200", "--quiet", "--save", target / "m.json"],
        "export": ["export", "--model", model, target / "w.npz"],
        "import": ["import", "--model", target / "m.json", weights],
        "compare --json": ["compare", "--sizes", "784,300,10", "--against", "numpy",
                           "--backend", "python", "--batch-size", "5", "--json",
                           target / "c.json"],
        "conformance export": ["conformance", "export", target / "cases"],
    }


NUMPY_COMMANDS = {"export", "compare --json"}  # .npz output, the NumPy reference


def _skip_without_numpy(command: str) -> None:
    if command in NUMPY_COMMANDS and not HAVE_NUMPY:
        pytest.skip(f"{command} needs NumPy (not installed here, e.g. under PyPy)")


@pytest.fixture(scope="module")
def json_weights(model_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "w.json"
    assert main(["export", "--model", str(model_file), str(path)]) == 0
    return path


@pytest.mark.parametrize("command", list(_commands(Path(), Path(), Path())))
def test_full_disk_is_one_line_and_leaves_nothing(capsys, full_disk, model_file, json_weights,
                                                  command):
    _skip_without_numpy(command)
    argv = _commands(full_disk, model_file, json_weights)[command]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, "No space left on device")
    assert "Traceback" not in err and ".loopnet-" not in err
    assert [p.name for p in full_disk.iterdir()] == ["filler"]


@pytest.mark.parametrize("command", list(_commands(Path(), Path(), Path())))
def test_read_only_file_system_is_one_line(capsys, read_only_fs, model_file, json_weights,
                                           command):
    _skip_without_numpy(command)
    argv = _commands(read_only_fs, model_file, json_weights)[command]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err)
    assert "read-only file system" in err.lower()


def test_conformance_run_on_a_full_disk(capsys, full_disk, tmp_path):
    cases = tmp_path / "cases"
    assert main(["conformance", "export", str(cases)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "conformance", "run", cases, full_disk / "results")
    assert_one_line_error(code, err, "No space left on device", str(full_disk / "results"))
    assert [p.name for p in full_disk.iterdir()] == ["filler"]


@pytest.mark.parametrize("number", ERRNOS, ids=[errno.errorcode[n] for n in ERRNOS])
@pytest.mark.parametrize("stage", ["fsync", "replace", "open"])
def test_injected_write_fault_keeps_old_file_and_no_temporary(capsys, tmp_path, monkeypatch,
                                                             model_file, number, stage):
    target = tmp_path / "w.json"
    target.write_text("old")
    real = {"fsync": os.fsync, "replace": os.replace, "open": os.open}[stage]

    def failing(*args, **kwargs):
        if stage == "open" and not str(args[0]).startswith(str(tmp_path)):
            return real(*args, **kwargs)
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, stage, failing)
    code, _, err = run(capsys, "export", "--model", model_file, target)
    monkeypatch.undo()
    assert_one_line_error(code, err, os.strerror(number), str(target))
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json"]


def test_name_too_long(capsys, tmp_path, model_file):
    target = tmp_path / ("n" * 300 + ".json")
    code, _, err = run(capsys, "export", "--model", model_file, target)
    assert_one_line_error(code, err, "longer than the file system allows")
    code, _, err = run(capsys, "train", "--backend", "python", "--iters", "1", "--limit", "20",
                       "--quiet", "--save", target)
    assert_one_line_error(code, err, "--save", "longer than the file system allows")
    assert "epoch" not in capsys.readouterr().out  # refused before training


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory(capsys, tmp_path, model_file):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    code, _, err = run(capsys, "export", "--model", model_file, folder / "w.json")
    assert_one_line_error(code, err, "not writable")


# ---- targets that must not be replaced ------------------------------------------------------
def test_read_only_file_is_not_replaced(capsys, tmp_path, model_file):
    target = tmp_path / "w.json"
    target.write_text("keep")
    target.chmod(0o444)
    code, _, err = run(capsys, "train", "--backend", "python", "--iters", "1", "--limit", "20",
                       "--quiet", "--save", target)
    assert_one_line_error(code, err, "--save", "read-only")
    assert target.read_text() == "keep" and (target.stat().st_mode & 0o777) == 0o444


def test_symlink_is_not_replaced(capsys, tmp_path, model_file):
    real = tmp_path / "real.json"
    real.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = run(capsys, "export", "--model", model_file, link)
    assert_one_line_error(code, err, "symbolic link", str(real))
    assert link.is_symlink() and real.read_text() == "keep"


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_device_node_is_not_replaced(capsys, model_file, device):
    code, _, err = run(capsys, "export", "--format", "json", "--model", model_file, device)
    assert_one_line_error(code, err, "device node")
    assert Path(device).is_char_device()


def test_fifo_is_not_written(capsys, tmp_path, model_file):
    fifo = tmp_path / "w.json"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "export", "--model", model_file, fifo)
    assert_one_line_error(code, err, "FIFO")


def test_export_over_its_own_model_is_refused(capsys, tmp_path, model_file):
    copy = tmp_path / "m.json"
    copy.write_bytes(model_file.read_bytes())
    code, _, err = run(capsys, "export", "--model", copy, copy)
    assert_one_line_error(code, err, "input")
    assert copy.read_bytes() == model_file.read_bytes()
    hard = tmp_path / "hard.json"
    os.link(copy, hard)  # the same file under another name
    code, _, err = run(capsys, "export", "--model", copy, hard)
    assert_one_line_error(code, err, "input")


def test_import_over_its_weights_is_refused(capsys, json_weights, tmp_path):
    copy = tmp_path / "w.json"
    copy.write_bytes(json_weights.read_bytes())
    code, _, err = run(capsys, "import", "--model", copy, copy)
    assert_one_line_error(code, err, "input")
    assert copy.read_bytes() == json_weights.read_bytes()


def test_save_onto_an_input_data_file_is_refused(capsys, tmp_path):
    from loopnet.data import generate_digits, write_idx

    digits = generate_digits(40, seed=3)
    folder = tmp_path / "idx"
    folder.mkdir()
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    half = 20 * 784
    write_idx(folder / names[0], (20, 28, 28), digits.pixels[:half])
    write_idx(folder / names[1], (20,), digits.labels[:20])
    write_idx(folder / names[2], (20, 28, 28), digits.pixels[half:])
    write_idx(folder / names[3], (20,), digits.labels[20:])
    before = (folder / names[1]).read_bytes()
    code, _, err = run(capsys, "train", "--data", folder, "--backend", "python", "--iters", "1",
                       "--quiet", "--save", folder / names[1])
    assert_one_line_error(code, err, "input")
    assert (folder / names[1]).read_bytes() == before
    if not HAVE_NUMPY:
        return  # compare needs NumPy for its reference
    code, _, err = run(capsys, "compare", "--data", folder, "--against", "numpy",
                       "--json", folder / names[0])
    assert_one_line_error(code, err, "input")


# ---- temporaries ----------------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".loopnet-{dead}-0123456789ab.tmp"
    stale_dir = tmp_path / f".loopnet-{dead}-0123456789ab.d"
    live = tmp_path / f".loopnet-{alive}-0123456789ab.tmp"
    other = tmp_path / ".m.json.abcd.tmp"  # not loopnet's naming: never touched
    for path in (stale, live, other):
        path.write_text("partial")
    stale_dir.mkdir()
    (stale_dir / "case.json").write_text("{")
    write_file_atomic(tmp_path / "m.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.json", live.name, other.name])
    assert remove_stale_temporaries(tmp_path) == 0


def test_stale_temporaries_of_earlier_versions_are_removed_when_an_hour_old(tmp_path):
    """Earlier versions wrote ``.<name>.<8 characters>.tmp`` (tempfile.mkstemp, no pid): the
    target's own are removed once not modified for an hour; others, and fresh ones, stay."""
    from loopnet.atomic import LEGACY_STALE_SECONDS

    old = time.time() - LEGACY_STALE_SECONDS - 60
    stale = tmp_path / ".m.json.k3_x9q2a.tmp"
    fresh = tmp_path / ".m.json.abcd1234.tmp"  # perhaps an old version writing right now
    other_target = tmp_path / ".w.json.k3_x9q2a.tmp"
    not_mkstemp = tmp_path / ".m.json.abc.tmp"
    for path in (stale, fresh, other_target, not_mkstemp):
        path.write_text("partial")
    link = tmp_path / ".m.json.linklink.tmp"
    link.symlink_to(stale)
    for path in (stale, other_target, not_mkstemp, link):
        os.utime(path, (old, old), follow_symlinks=False)
    write_file_atomic(tmp_path / "m.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.json", fresh.name, other_target.name, not_mkstemp.name, link.name])
    assert (tmp_path / "m.json").read_text() == "{}"


KILLED_AT_RENAME = """
import os, signal, sys
from loopnet.atomic import write_file_atomic
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
write_file_atomic(sys.argv[1], sys.argv[2])
print(os.getpid())
"""


def _write_killed_at_rename(target: Path, text: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILLED_AT_RENAME, str(target), text],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60)


def test_a_new_target_is_linked_under_its_own_name_at_once(tmp_path):
    """Killed where a rename would be: a new target needs none (the finished unnamed file is
    linked as the target), so nothing is lost; an existing one is replaced by link + rename,
    and the complete temporary such a kill leaves is removed by the next write."""
    target = tmp_path / "m.json"
    done = _write_killed_at_rename(target, "first")
    assert done.returncode == 0, done.stderr  # never renamed, so never killed
    assert target.read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
    done = _write_killed_at_rename(target, "second")
    assert done.returncode == -signal.SIGKILL
    assert target.read_text() == "first"
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".loopnet-")
    assert leftovers[0].read_text() == "second"  # complete, never partial
    write_file_atomic(target, "third")
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    assert target.read_text() == "third"


def test_failed_directory_write_keeps_the_old_set(tmp_path):
    target = tmp_path / "cases"
    target.mkdir()
    (target / "old.json").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "new.json").write_text("new")
        raise RuntimeError("disk on fire")
    assert [p.name for p in target.iterdir()] == ["old.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["cases"]
    with atomic_directory(target) as staging:
        (staging / "new.json").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["cases"]


def test_conformance_export_fault_mid_set_keeps_the_old_set(capsys, tmp_path, monkeypatch):
    target = tmp_path / "cases"
    assert main(["conformance", "export", str(target)]) == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    capsys.readouterr()
    calls = []
    real_fsync = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 5:  # the fifth case file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, _, err = run(capsys, "conformance", "export", target)
    monkeypatch.undo()
    assert_one_line_error(code, err, "No space left on device", str(target))
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["cases"]


WRITER = """
import sys
from loopnet.atomic import write_file_atomic
target = sys.argv[1]
blobs = [b"A" * (8 << 20), b"B" * (8 << 20)]
i = 0
while True:
    write_file_atomic(target, blobs[i % 2])
    i += 1
"""


def test_sigkill_loop_leaves_only_the_complete_old_or_new_file(tmp_path):
    """Kill a writer of 8 MB files at random moments: the target is always complete, and a
    temporary can only survive complete (killed between link and rename) until the next write."""
    target = tmp_path / "m.bin"
    write_file_atomic(target, b"A" * (8 << 20))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(14)
    leftovers = 0
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=env)
        time.sleep(0.15 + rng.random() * 0.35)
        child.send_signal(signal.SIGKILL)
        child.wait()
        data = target.read_bytes()
        assert data in (b"A" * (8 << 20), b"B" * (8 << 20))
        for extra in tmp_path.iterdir():
            if extra != target:
                assert extra.name.startswith(".loopnet-"), extra
                assert extra.read_bytes() in (b"A" * (8 << 20), b"B" * (8 << 20))
                leftovers += 1
    write_file_atomic(target, b"done")
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]


@pytest.mark.slow
def test_sigkill_during_train_save(tmp_path, synthetic_cache):
    """`loopnet train --save` killed at random moments: the model is the old or the new one."""
    target = tmp_path / "m.json"
    argv = [sys.executable, "-m", "loopnet", "train", "--backend", "python", "--iters", "1",
            "--limit", "20", "--hidden", "2000", "--quiet", "--save", str(target)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOPNET_CACHE": str(synthetic_cache)}
    assert subprocess.run(argv, env=env, capture_output=True).returncode == 0
    rng = random.Random(5)
    for _ in range(4):
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(1.0 + rng.random() * 2.0)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert json.loads(target.read_text())["sizes"] == [784, 2000, 10]
        assert all(p == target or p.name.startswith(".loopnet-") for p in tmp_path.iterdir())


def test_api_raises_output_file_error(tmp_path):
    with pytest.raises(OutputFileError, match="symbolic link"):
        (tmp_path / "t").write_text("x")
        (tmp_path / "l").symlink_to(tmp_path / "t")
        write_file_atomic(tmp_path / "l", "y")
    with pytest.raises(OutputFileError, match="empty file name"):
        write_file_atomic("", "y")


# ---- Numba's cache directory ----------------------------------------------------------------
COMPILE = """
from loopnet.backends import get_backend
backend = get_backend("numba")
buf = backend.float_buffer([1.0, -2.0])
out = backend.zeros(2)
backend.kernels.relu_forward(buf, out, 2)
print([float(v) for v in out])
"""


def _compile_with(env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "LOOPNET_NUMBA_CACHE_NOTED")}
    env.update(env_changes, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True,
                          text=True, timeout=600)


def _one_warning(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 0.0]"
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loopnet: warning: "), done.stderr
    return lines[0]


@pytest.mark.numba_required
def test_numba_cache_on_a_full_disk_compiles_without_caching(full_disk):
    line = _one_warning(_compile_with({"NUMBA_CACHE_DIR": str(full_disk / "numba")}))
    assert "No space left on device" in line and "without caching" in line


@pytest.mark.numba_required
def test_numba_cache_nowhere_writable_compiles_without_caching(read_only_fs):
    """Cache directory, its fallback in $TMPDIR and HOME all on a read-only file system."""
    package = REPO / "loopnet"
    before = sorted(package.rglob("*.nbi"))
    line = _one_warning(_compile_with({"LOOPNET_CACHE": str(read_only_fs / "cache"),
                                       "TMPDIR": str(read_only_fs), "HOME": str(read_only_fs)}))
    assert "compiled-kernel cache" in line
    assert sorted(package.rglob("*.nbi")) == before, "Numba fell back to the package directory"
