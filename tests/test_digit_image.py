"""Reading a picture the MNIST way: grey, inverted when dark on light, 20×20 box, centred by mass."""
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopnet.digit_image import BOX, INK_THRESHOLD, SIDE, ImageFileError, read_digit_image

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install loopnet[image])")
ImageDraw = pytest.importorskip("PIL.ImageDraw")


def centre_of_mass(pixels: bytes) -> tuple[float, float]:
    total = sum(pixels)
    x = sum((i % SIDE + 0.5) * v for i, v in enumerate(pixels)) / total
    y = sum((i // SIDE + 0.5) * v for i, v in enumerate(pixels)) / total
    return x, y


def ink_box(pixels: bytes) -> tuple[int, int]:
    """Width and height of the pixels above the ink threshold."""
    cols = [i % SIDE for i, v in enumerate(pixels) if v > INK_THRESHOLD]
    rows = [i // SIDE for i, v in enumerate(pixels) if v > INK_THRESHOLD]
    return max(cols) - min(cols) + 1, max(rows) - min(rows) + 1


def draw_seven(path, size=(300, 420), ink="black", paper="white", mode="RGB"):
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    w, h = size
    d.line([(0.2 * w, 0.15 * h), (0.8 * w, 0.15 * h), (0.45 * w, 0.85 * h)], fill=ink,
           width=max(3, w // 12))
    img.save(path)
    return path


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_a_large_picture_becomes_an_mnist_digit(tmp_path, suffix):
    pixels = read_digit_image(draw_seven(tmp_path / f"seven.{suffix}"))
    assert len(pixels) == SIDE * SIDE
    # white digit on black: the border is dark, the digit bright
    assert max(pixels) > 200
    assert sum(pixels[:SIDE]) == 0 and sum(pixels[-SIDE:]) == 0
    # the digit's longer side is scaled to 20 (anti-aliasing may add a pixel of faint ink)
    width, height = ink_box(pixels)
    assert max(width, height) in range(BOX - 1, BOX + 2)
    # centred by mass: at most half a pixel (the rounding of the shift) from (14, 14)
    cx, cy = centre_of_mass(pixels)
    assert abs(cx - SIDE / 2) <= 0.5 + 1e-9 and abs(cy - SIDE / 2) <= 0.5 + 1e-9


def test_dark_on_light_and_light_on_dark_give_the_same_digit(tmp_path):
    a = read_digit_image(draw_seven(tmp_path / "a.png", ink="black", paper="white", mode="L"))
    b = read_digit_image(draw_seven(tmp_path / "b.png", ink="white", paper="black", mode="L"))
    assert a == b


def test_a_transparent_background_counts_as_paper(tmp_path):
    path = draw_seven(tmp_path / "t.png", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")
    opaque = read_digit_image(draw_seven(tmp_path / "o.png", ink="black", paper="white"))
    assert read_digit_image(path) == opaque


def test_the_size_of_the_picture_hardly_matters(tmp_path):
    small = read_digit_image(draw_seven(tmp_path / "s.png", size=(150, 210)))
    large = read_digit_image(draw_seven(tmp_path / "l.png", size=(600, 840)))
    differing = sum(abs(p - q) > 64 for p, q in zip(small, large))
    assert differing < 30, differing


def test_not_an_image_blank_and_missing_are_one_error_each(tmp_path):
    (tmp_path / "text.png").write_text("not a picture")
    with pytest.raises(ImageFileError, match="is not an image"):
        read_digit_image(tmp_path / "text.png")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(ImageFileError, match="no digit"):
        read_digit_image(tmp_path / "blank.png")
    with pytest.raises(ImageFileError, match="cannot read"):
        read_digit_image(tmp_path / "missing.png")
    # a PNG cut short after its header
    draw_seven(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:80])
    with pytest.raises(ImageFileError):
        read_digit_image(tmp_path / "cut.png")


def test_a_picture_claiming_huge_dimensions_is_refused_before_decoding(tmp_path):
    Image.new("L", (8, 8), 0).save(tmp_path / "tiny.png")
    data = bytearray((tmp_path / "tiny.png").read_bytes())
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", 100_000, 100_000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    (tmp_path / "huge.png").write_bytes(bytes(data))
    with pytest.raises(ImageFileError, match="refused"):
        read_digit_image(tmp_path / "huge.png")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_digit_or_an_image_error(tmp_path, blob):
    path = tmp_path / "fuzz.png"
    path.write_bytes(blob)
    try:
        pixels = read_digit_image(path)
    except ImageFileError:
        return
    assert len(pixels) == SIDE * SIDE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(8, 120), st.integers(8, 120), st.integers(0, 2**32 - 1))
def test_any_picture_with_ink_fits_the_box_and_is_centred(tmp_path, width, height, seed):
    import random

    rng = random.Random(seed)
    img = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(img)
    for _ in range(3):
        d.line([(rng.randrange(width), rng.randrange(height)),
                (rng.randrange(width), rng.randrange(height))], fill=255, width=3)
    img.save(tmp_path / "random.png")
    pixels = read_digit_image(tmp_path / "random.png")
    w, h = ink_box(pixels)
    assert max(w, h) <= BOX + 2
    cx, cy = centre_of_mass(pixels)
    # centred by mass unless the box had to be clamped inside the 28×28 frame
    assert abs(cx - SIDE / 2) <= 4 and abs(cy - SIDE / 2) <= 4


def test_real_mnist_digits_survive_a_round_trip_through_a_large_picture(tmp_path, mnist_split_dir):
    """An MNIST digit blown up 10× (dark ink on white) comes back close to itself: MNIST's own
    digits already fill a 20×20 box and are centred by mass."""
    from loopnet.data import load_data

    _, test = load_data(str(mnist_split_dir))
    correlations = []
    for index in range(20):
        original = test.pixels[index * 784:(index + 1) * 784]
        big = Image.frombytes("L", (SIDE, SIDE), bytes(original)).resize((280, 280), Image.BICUBIC)
        Image.eval(big, lambda v: 255 - v).save(tmp_path / "digit.png")
        pixels = read_digit_image(tmp_path / "digit.png")
        assert max(ink_box(pixels)) in range(BOX - 1, BOX + 2)
        a, b = list(original), list(pixels)
        mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
        cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
        norm = (sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b)) ** 0.5
        correlations.append(cov / norm)
    # measured: 0.72 .. 0.99 over the first ten, mean 0.87 (resampling twice blurs the strokes)
    assert min(correlations) > 0.6 and sum(correlations) / len(correlations) > 0.8
