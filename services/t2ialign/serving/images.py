"""Images in requests: untrusted PNG/JPEG bytes in, checked, uint8 (H, W, 3) arrays out (PNG out: common/png.py)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from t2ialign.serving.errors import InvalidArgument
from t2ialign.serving.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

FORMATS = ("PNG", "JPEG")


def decode_image(data: bytes, size: int | None = None, what: str = "image") -> np.ndarray:
    """Decode PNG/JPEG bytes to (H, W, 3) uint8 RGB; resized to (size, size) bicubic when `size` is given.

    1. Check the encoded size, 2. the format and the pixel count from the header (before decoding),
    3. decode fully (a truncated file fails here), 4. convert and resize.
    """
    if not data:
        raise InvalidArgument(f"{what} is empty; send PNG or JPEG bytes or an object-store key")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidArgument(
            f"{what} is {len(data) / 2**20:.1f} MiB; the limit is {MAX_IMAGE_BYTES // 2**20} MiB. "
            "Downscale it or re-encode it as JPEG."
        )
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in FORMATS:
                raise InvalidArgument(f"{what} is {im.format}; send PNG or JPEG")
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise InvalidArgument(f"{what} is {w}x{h} pixels; the limit is {MAX_IMAGE_PIXELS}. Downscale it.")
            im.load()
            rgb = im.convert("RGB")
    except InvalidArgument:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InvalidArgument(f"{what} is not a readable PNG or JPEG ({type(e).__name__}: {e}); check the file") from e
    if size is not None and rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(rgb, dtype=np.uint8)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, size, size, 3) uint8, bicubic; returned unchanged when already that size."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InvalidArgument(f"images must be (N, H, W, 3) uint8, got shape {tuple(images.shape)}")
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BICUBIC)) for im in images])
