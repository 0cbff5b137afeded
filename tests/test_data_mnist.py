"""MNIST loading from a directory, load_data dispatch, and downloading from a loopback server."""

import functools
import hashlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopnet.data as data_pkg
from loopnet.data import Dataset, load_data, load_mnist, write_idx
from loopnet.data import mnist as mnist_mod
from loopnet.data.mnist import MNIST_FILES, download_mnist
from loopnet.errors import DataError, DownloadError

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """``$LOOPNET_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("LOOPNET_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_fake_mnist(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> None:
    """Tiny MNIST-named IDX files of 4x3 images, labels counting 0, 1, 2, ..."""
    suffix = ".gz" if gz else ""
    for (images, labels), n in zip((MNIST_FILES[:2], MNIST_FILES[2:]), (n_train, n_test)):
        write_idx(folder / (images + suffix), (n, 4, 3), bytes(i % 256 for i in range(n * 12)))
        write_idx(folder / (labels + suffix), (n,), bytes(i % 10 for i in range(n)))


# --- loading -----------------------------------------------------------------------------


def test_load_official_t10k_split() -> None:
    folder = shared_data_root() / "mnist-t10k-split"
    if not folder.is_dir():
        pytest.skip(f"shared MNIST split not found at {folder} (set LOOPNET_SHARED_DATA)")
    train, test = load_mnist(folder)
    assert (len(train), len(test)) == (8000, 2000)
    assert train.labels[:5] == bytes([7, 2, 1, 0, 4])  # the official t10k file starts so
    for split in (train, test):
        assert split.n_features == 784
        assert split.image_shape == (28, 28)
        assert split.n_classes == 10
        assert len(split.pixels) == 784 * len(split)


def test_load_small_directory_raw_and_gz(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path, gz=True)
    # a raw copy of one file wins over its .gz sibling; both forms are accepted
    write_idx(tmp_path / MNIST_FILES[3], (4,), b"\x09\x09\x09\x09")
    train, test = load_mnist(tmp_path)
    assert isinstance(train, Dataset)
    assert (len(train), len(test)) == (6, 4)
    assert train.labels == bytes([0, 1, 2, 3, 4, 5])
    assert test.labels == b"\x09\x09\x09\x09"
    assert train.image_shape == (4, 3) and train.n_features == 12
    assert train.pixels[:3] == b"\x00\x01\x02"


def test_missing_directory_names_path_and_files(tmp_path: Path) -> None:
    folder = tmp_path / "absent"
    with pytest.raises(DataError, match="does not exist") as info:
        load_mnist(folder)
    message = str(info.value)
    assert str(folder) in message
    assert all(name in message for name in MNIST_FILES)


def test_missing_file_is_named(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]") as info:
        load_mnist(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_count_mismatch(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", (5,), bytes(5))
    with pytest.raises(DataError, match="has 6 images but .* has 5 labels"):
        load_mnist(tmp_path)


def test_label_out_of_range(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", (4,), bytes([1, 10, 2, 3]))
    with pytest.raises(DataError, match="label 10 is out of range"):
        load_mnist(tmp_path)


def test_images_must_be_3d(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", (6, 12), bytes(72))
    with pytest.raises(DataError, match="expected 3-D images"):
        load_mnist(tmp_path)


def test_train_and_test_image_sizes_must_agree(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", (4, 3, 4), bytes(48))
    with pytest.raises(DataError, match=r"train images are \(4, 3\) but test images are \(3, 4\)"):
        load_mnist(tmp_path)


def test_bad_idx_inside_directory_is_data_error(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: (truncated|corrupt) gzip"):
        load_mnist(tmp_path)


# --- load_data dispatch --------------------------------------------------------------------


def test_load_data_directory(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path, gz=False)
    train, test = load_data(str(tmp_path))
    assert (len(train), len(test)) == (6, 4)


def test_load_data_bad_spec_names_path_and_files(tmp_path: Path) -> None:
    spec = str(tmp_path / "nothing-here")
    with pytest.raises(DataError) as info:
        load_data(spec)
    message = str(info.value)
    assert spec in message and "synthetic" in message
    assert all(name in message for name in MNIST_FILES)


def test_load_data_synthetic_and_mnist_dispatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_synthetic(**kwargs: object) -> str:
        calls.append(("synthetic", kwargs))
        return "synthetic pair"

    def fake_download(cache_dir: object = None) -> Path:
        calls.append(("download", cache_dir))
        write_fake_mnist(tmp_path)
        return tmp_path

    monkeypatch.setattr(data_pkg, "synthetic_dataset", fake_synthetic)
    monkeypatch.setattr(data_pkg, "download_mnist", fake_download)
    assert load_data("synthetic", seed=4, cache_dir="c") == "synthetic pair"
    train, test = load_data("mnist", cache_dir="c")
    assert (len(train), len(test)) == (6, 4)
    assert calls == [("synthetic", {"seed": 4, "cache_dir": "c"}), ("download", "c")]


# --- downloading ---------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server in a thread, serving files from a temporary directory."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served_mnist(
    served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """Serve tiny MNIST-named .gz files and make them the expected checksums."""
    url, root = served
    write_fake_mnist(root, gz=True)
    table = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()
        for name in mnist_mod.MNIST_SHA256
    }
    monkeypatch.setattr(mnist_mod, "MNIST_SHA256", table)
    return url, root


def test_download_then_load(served_mnist: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served_mnist
    lines: list[str] = []
    folder = download_mnist(tmp_path / "cache", url, timeout=5, log=lines.append)
    assert folder == tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(n + ".gz" for n in MNIST_FILES)
    for name in mnist_mod.MNIST_SHA256:
        assert (folder / name).read_bytes() == (root / name).read_bytes()
    assert len(lines) == 4 and lines[0].startswith("downloading " + url)
    train, test = load_mnist(folder)
    assert (len(train), len(test)) == (6, 4)


def test_download_skips_valid_files(
    served_mnist: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served_mnist
    download_mnist(tmp_path, url, timeout=5)
    for path in root.iterdir():  # the server now has nothing: a fetch would fail
        path.unlink()
    lines: list[str] = []
    assert download_mnist(tmp_path, url, timeout=5, log=lines.append) == tmp_path / "mnist"
    assert lines == []


def test_download_replaces_a_damaged_file(
    served_mnist: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = served_mnist
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"stale")
    download_mnist(tmp_path, url, timeout=5)
    good = (root / "t10k-labels-idx1-ubyte.gz").read_bytes()
    assert (folder / "t10k-labels-idx1-ubyte.gz").read_bytes() == good


def test_download_url_from_environment(
    served_mnist: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served_mnist
    monkeypatch.setenv("LOOPNET_MNIST_URL", url.rstrip("/"))  # the slash is added back
    monkeypatch.setenv("LOOPNET_CACHE", str(tmp_path / "envcache"))
    assert download_mnist(timeout=5) == tmp_path / "envcache" / "mnist"


def test_checksum_mismatch_leaves_nothing(
    served_mnist: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served_mnist
    table = dict(mnist_mod.MNIST_SHA256)
    table["train-images-idx3-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(mnist_mod, "MNIST_SHA256", table)
    with pytest.raises(DownloadError, match="SHA-256 mismatch") as info:
        download_mnist(tmp_path, url, timeout=5)
    assert "--data" in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_http_404_is_download_error(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served  # serves an empty directory
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download_mnist(tmp_path, url, timeout=5)
    message = str(info.value)
    assert "download failed" in message and "--data DIR" in message and "\n" not in message
    assert list((tmp_path / "mnist").iterdir()) == []


def test_refused_connection_is_download_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # find a port, then close it so nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match="download failed") as info:
        download_mnist(tmp_path, f"http://127.0.0.1:{port}/", timeout=5)
    assert "--data DIR" in str(info.value)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_bad_url_is_download_error(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="--data"):
        download_mnist(tmp_path, "nota-scheme://x/", timeout=5)


def test_unwritable_cache_is_download_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")  # a file where the cache directory would go
    with pytest.raises(DownloadError, match="cannot create the MNIST cache directory"):
        download_mnist(blocker, "http://127.0.0.1:9/", timeout=5)
