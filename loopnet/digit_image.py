"""Reading a picture of a digit the way MNIST's digits were made (needs Pillow, the `image` extra).

MNIST's recipe (LeCun et al.): the digit, white on black, is scaled with anti-aliasing so that
its bounding box fits a 20×20 box (aspect ratio kept), then placed in a 28×28 image so that its
centre of mass is at the image's centre.  `read_digit_image` does the same to a PNG/JPEG/...
of any size: grey levels, dark-on-light pictures inverted, the ink's bounding box scaled to fit
20×20, then shifted so its centre of mass lands on (14, 14).
"""
from __future__ import annotations

import os

from loopnet.errors import ConfigError, DataError

SIDE = 28  # MNIST images are 28×28
BOX = 20  # the digit's bounding box is scaled to fit 20×20
MAX_PIXELS = 40_000_000  # larger pictures are refused before they are decoded
INK_THRESHOLD = 32  # grey levels (of 255) above this, after inverting, count as ink for the box


class ImageFileError(DataError):
    """A file that is not a readable picture, or a picture with no digit in it."""


def require_pillow(flag: str = "--image") -> None:
    """Raise a one-line ConfigError naming the extra when Pillow is missing."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ConfigError(f"{flag} needs Pillow: pip install loopnet[image]") from None


def read_digit_image(path: str | os.PathLike) -> bytes:
    """The picture at `path` as 784 MNIST-style pixels (uint8, row-major, white digit on black)."""
    require_pillow()
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageFileError(f"{path} is {img.width}×{img.height} pixels; pictures of "
                                     f"more than {MAX_PIXELS} pixels are refused")
            img.load()
            grey = _grey(img)
    except Image.DecompressionBombError:  # Pillow's own limit, checked when the file is opened
        raise ImageFileError(f"{path} claims more pixels than Pillow will decode; pictures of "
                             f"more than {MAX_PIXELS} pixels are refused") from None
    except UnidentifiedImageError:
        raise ImageFileError(f"{path} is not an image Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # a truncated or corrupt file, or one that is not there
        raise ImageFileError(f"cannot read image {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    return mnist_style(grey, str(path))


def _grey(img):
    """Grey levels 0..255 of `img`, transparent parts shown on white (like a page)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        page.alpha_composite(rgba)
        return page.convert("L")
    return img.convert("L")


def mnist_style(grey, name: str = "image") -> bytes:
    """A Pillow greyscale image as 28×28 MNIST pixels (see the module docstring)."""
    from PIL import Image, ImageOps

    width, height = grey.size
    border = [grey.getpixel((x, y)) for x in range(width) for y in (0, height - 1)]
    border += [grey.getpixel((x, y)) for y in range(height) for x in (0, width - 1)]
    if sum(border) / len(border) > 127:  # a light background: dark ink on paper, so invert
        grey = ImageOps.invert(grey)
    box = grey.point(lambda v: 255 if v > INK_THRESHOLD else 0).getbbox()
    if box is None:
        raise ImageFileError(f"{name} has no digit in it (no pixel stands out from the background)")
    digit = grey.crop(box)
    w, h = digit.size
    scale = BOX / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = digit.resize(size, Image.LANCZOS)
    cx, cy = _centre_of_mass(digit.tobytes(), size[0], size[1])
    # shift so the centre of mass (in pixel-centre coordinates) lands on the image centre
    left = min(max(round(SIDE / 2 - cx), 0), SIDE - size[0])
    top = min(max(round(SIDE / 2 - cy), 0), SIDE - size[1])
    canvas = Image.new("L", (SIDE, SIDE), 0)
    canvas.paste(digit, (left, top))
    return canvas.tobytes()


def _centre_of_mass(pixels: bytes, width: int, height: int) -> tuple[float, float]:
    """(x, y) of the grey levels' centre of mass, pixel (c, r) counting at (c + ½, r + ½)."""
    total = sx = sy = 0.0
    for r in range(height):
        for c in range(width):
            v = pixels[r * width + c]
            total += v
            sx += (c + 0.5) * v
            sy += (r + 0.5) * v
    if total == 0:
        return width / 2, height / 2
    return sx / total, sy / total
