"""The synthetic digit generator: determinism, shape, balance, sparsity, speed and caching."""

import time
from pathlib import Path

import pytest

from loopnet.data import Dataset, synthetic
from loopnet.data.idx import read_idx, write_idx
from loopnet.data.synthetic import generate_digits, synthetic_dataset
from loopnet.errors import ConfigError

SIDE = 28


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return generate_digits(2000, seed=0)


def test_shape_and_types(sample: Dataset) -> None:
    assert len(sample) == 2000
    assert sample.n_features == SIDE * SIDE
    assert sample.image_shape == (SIDE, SIDE)
    assert sample.n_classes == 10
    assert isinstance(sample.pixels, bytes) and isinstance(sample.labels, bytes)
    assert len(sample.pixels) == 2000 * SIDE * SIDE


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, again, other = generate_digits(40, 7), generate_digits(40, 7), generate_digits(40, 8)
    assert first == again
    assert first.pixels != other.pixels
    assert first.labels != other.labels


def test_shorter_run_is_a_prefix() -> None:
    assert generate_digits(25, 3) == generate_digits(60, 3).head(25)


def test_labels_are_balanced(sample: Dataset) -> None:
    counts = [sample.labels.count(k) for k in range(10)]
    assert min(counts) >= 150 and max(counts) <= 250, counts  # expectation 200 each


def test_pixels_look_like_mnist(sample: Dataset) -> None:
    zeros = sample.pixels.count(0) / len(sample.pixels)
    assert 0.70 <= zeros <= 0.90, zeros
    assert max(sample.pixels) == 255
    for i in range(len(sample)):
        image = sample.pixels[i * SIDE * SIDE : (i + 1) * SIDE * SIDE]
        assert SIDE * SIDE - image.count(0) >= 25, f"image {i} has almost no ink"
    # the background is exactly zero: an all-blank 2-pixel frame in most images
    blank_frames = 0
    for i in range(len(sample)):
        rows = [sample.pixels[(i * SIDE + r) * SIDE : (i * SIDE + r + 1) * SIDE] for r in range(SIDE)]
        frame = rows[0] + rows[1] + rows[-2] + rows[-1] + bytes(r[c] for r in rows for c in (0, 1))
        blank_frames += not any(frame)
    assert blank_frames > 0.8 * len(sample)


def test_rejects_negative_count() -> None:
    with pytest.raises(ConfigError):
        generate_digits(-1)
    assert len(generate_digits(0)) == 0


@pytest.mark.slow
def test_speed_ten_thousand_images() -> None:
    start = time.perf_counter()
    data = generate_digits(10_000, seed=1)
    elapsed = time.perf_counter() - start
    assert len(data) == 10_000
    assert elapsed < 5.0, f"10 000 synthetic digits took {elapsed:.2f} s (limit 5 s)"


def test_dataset_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train, test = synthetic_dataset(n_train=50, n_test=20, seed=3, cache_dir=tmp_path)
    assert (len(train), len(test)) == (50, 20)
    assert train.pixels[: 20 * 784] != test.pixels  # the test split has its own stream
    assert train == generate_digits(50, 3)

    folder = tmp_path / "synthetic" / f"{synthetic.SYNTHETIC_VERSION}-3-50-20"
    assert folder == synthetic.synthetic_cache_dir(50, 20, 3, tmp_path)
    assert read_idx(folder / "train-images-idx3-ubyte") == ((50, 28, 28), train.pixels)
    assert read_idx(folder / "t10k-labels-idx1-ubyte") == ((20,), test.labels)

    def no_generating(n: int, seed: int = 0) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(synthetic, "generate_digits", no_generating)
    assert synthetic_dataset(n_train=50, n_test=20, seed=3, cache_dir=tmp_path) == (train, test)


def test_damaged_cache_is_regenerated(tmp_path: Path) -> None:
    pair = synthetic_dataset(n_train=30, n_test=10, seed=1, cache_dir=tmp_path)
    images = synthetic.synthetic_cache_dir(30, 10, 1, tmp_path) / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])
    assert synthetic_dataset(n_train=30, n_test=10, seed=1, cache_dir=tmp_path) == pair
    assert read_idx(images)[1] == pair[0].pixels


def test_cache_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPNET_CACHE", str(tmp_path))
    synthetic_dataset(n_train=5, n_test=5, seed=0)
    assert (tmp_path / "synthetic" / f"{synthetic.SYNTHETIC_VERSION}-0-5-5").is_dir()


def test_unwritable_cache_only_warns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")  # a file where the cache root would be
    train, test = synthetic_dataset(n_train=5, n_test=4, seed=0, cache_dir=blocker)
    assert (len(train), len(test)) == (5, 4)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("loopnet: warning: could not cache synthetic")


def test_tampered_cache_is_detected_and_regenerated(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """A cache rewritten as valid IDX with every label 0 must not be used (it trained to 1.0)."""
    train, test = synthetic_dataset(n_train=30, n_test=10, seed=2, cache_dir=tmp_path)
    folder = synthetic.synthetic_cache_dir(30, 10, 2, tmp_path)
    write_idx(folder / "train-labels-idx1-ubyte", (30,), bytes(30))
    again, _ = synthetic_dataset(n_train=30, n_test=10, seed=2, cache_dir=tmp_path)
    assert again.labels == train.labels
    assert "checksum mismatch" in capsys.readouterr().err
    (folder / synthetic.CHECKSUMS).unlink()  # an incomplete cache: regenerated, not trusted
    again, _ = synthetic_dataset(n_train=30, n_test=10, seed=2, cache_dir=tmp_path)
    assert again.labels == train.labels and (folder / synthetic.CHECKSUMS).is_file()


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_rejects_bad_sizes(bad: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_train must be a positive integer"):
        synthetic_dataset(n_train=bad, n_test=5, cache_dir=tmp_path)  # type: ignore[arg-type]
