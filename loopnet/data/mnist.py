"""MNIST: load the four standard IDX files from a directory, or download them into the cache."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from loopnet.cache import cache_root
from loopnet.data.dataset import Dataset
from loopnet.data.idx import PathLike, atomic_output, read_idx_shape, read_images, read_labels
from loopnet.errors import DataError, DownloadError
from loopnet.memory import network_bytes, require_memory

N_CLASSES = 10

# Base names of the four files, (images, labels) per split; each may carry a ".gz" suffix.
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MNIST_FILES = TRAIN_FILES + TEST_FILES

DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_URL_ENV = "LOOPNET_MNIST_URL"

# SHA-256 of the official gzip archives. The two t10k values were computed here from unmodified
# copies of the official files (their MD5s, e.g. 9fb629c4189551a2d022fa330f9573f3 for the
# images, match the published ones). The two train values could not be computed here (no copy
# of the train files); they are the values that many independent public projects pin for
# these files (dataset loaders in several languages agree on them).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# A download larger than this is cut off as a failure (the largest real file is 9.9 MB).
MAX_DOWNLOAD_BYTES = 64 << 20
DOWNLOAD_CHUNK = 1 << 16
USER_AGENT = "loopnet-mnist-downloader"


def _expected_names() -> str:
    return ", ".join(f"{name}[.gz]" for name in MNIST_FILES)


def _find(directory: Path, base: str) -> Path | None:
    """The entry `base` in `directory` if present, else its ``.gz``, else None.  Any entry
    counts, so that a directory, FIFO or symlink loop of that name is reported as what it is
    (by `read_idx`), not as missing."""
    for name in (base, base + ".gz"):
        candidate = directory / name
        if os.path.lexists(candidate):
            return candidate
    return None


def _load_split(images_path: Path, labels_path: Path) -> Dataset:
    """One split from its image and label files, with MNIST's consistency checks."""
    shape = read_idx_shape(images_path)
    if len(shape) == 3:  # before reading: what the images cost, with a network taking them
        count, rows, cols = shape
        require_memory(count * rows * cols + rows * cols * network_bytes([1, N_CLASSES]),
                       f"{images_path} (declares {count} images of {rows}×{cols} pixels)",
                       DataError)
    count, rows, cols, pixels = read_images(images_path)
    labels = read_labels(labels_path)
    if len(labels) != count:
        raise DataError(
            f"{images_path} has {count} images but {labels_path} has {len(labels)} labels"
        )
    top = max(labels)
    if top >= N_CLASSES:
        raise DataError(f"{labels_path}: label {top} is out of range (expected 0 to 9)")
    return Dataset(pixels, labels, rows * cols, N_CLASSES, (rows, cols))


def load_mnist(directory: PathLike) -> tuple[Dataset, Dataset]:
    """Load ``(train, test)`` from a directory holding the four MNIST IDX files.

    Each file may be raw or gzipped (``name`` or ``name.gz``; the raw one wins if both exist).
    Raises DataError for a missing directory or file, invalid IDX data, images that are not
    3-D, an image/label count mismatch, a label of 10 or more, or train and test images of
    different sizes.
    """
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"data directory {folder} does not exist (expected the MNIST IDX files "
            f"{_expected_names()})"
        )
    found = {base: _find(folder, base) for base in MNIST_FILES}
    missing = [base for base, path in found.items() if path is None]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(m + '[.gz]' for m in missing)} (expected the MNIST IDX "
            f"files {_expected_names()})"
        )
    train = _load_split(found[TRAIN_FILES[0]], found[TRAIN_FILES[1]])  # type: ignore[arg-type]
    test = _load_split(found[TEST_FILES[0]], found[TEST_FILES[1]])  # type: ignore[arg-type]
    if train.image_shape != test.image_shape:
        raise DataError(
            f"{folder}: train images are {train.image_shape} but test images are "
            f"{test.image_shape}"
        )
    return train, test


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(DOWNLOAD_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _failed(url: str, why: object) -> DownloadError:
    """The one-line error for a failed download, pointing at the offline alternative."""
    return DownloadError(
        f"MNIST download failed ({url}: {why}); pass --data DIR with a directory holding the "
        "four MNIST IDX files instead"
    )


def _fetch(url: str, dest: Path, expected: str, timeout: float) -> None:
    """Download `url` to `dest` through a temporary file; only a verified file is kept."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with atomic_output(dest) as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            digest = hashlib.sha256()
            total = 0
            while block := resp.read(DOWNLOAD_CHUNK):
                total += len(block)
                if total > MAX_DOWNLOAD_BYTES:
                    raise _failed(url, f"more than {MAX_DOWNLOAD_BYTES} bytes")
                digest.update(block)
                out.write(block)
            got = digest.hexdigest()
            if got != expected:  # raising here discards the temporary file
                raise _failed(url, f"SHA-256 mismatch: expected {expected}, got {got}")
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError carries the open response
        raise _failed(url, f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _failed(url, exc.reason) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL, a full disk
        raise _failed(url, exc) from None


def download_mnist(
    cache_dir: PathLike | None = None,
    base_url: str | None = None,
    *,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Make sure the four official MNIST archives are in ``<cache root>/mnist/``; return it.

    `cache_dir` is the cache root (default: see ``cache_root``). `base_url` defaults to
    ``$LOOPNET_MNIST_URL`` or the public mirror. Files already present with the right SHA-256
    are kept; others are downloaded to a temporary file, verified, then renamed into place.
    `log`, if given, receives one line per file downloaded. Raises DownloadError (with a hint
    to use ``--data DIR``) when offline, on an HTTP error, or on a checksum mismatch; no
    unverified file is ever left in the cache.
    """
    url = base_url or os.environ.get(MNIST_URL_ENV) or DEFAULT_MNIST_URL
    if not url.endswith("/"):
        url += "/"
    folder = cache_root(cache_dir) / "mnist"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot create the MNIST cache directory {folder} ({exc.strerror or exc}); "
            "pass --data DIR with a directory holding the four MNIST IDX files instead"
        ) from None
    for name, expected in MNIST_SHA256.items():
        dest = folder / name
        if dest.is_file() and _sha256_of(dest) == expected:
            continue
        if log is not None:
            log(f"downloading {url}{name}")
        _fetch(url + name, dest, expected, timeout)
    return folder
