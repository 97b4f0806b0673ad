"""The PNG codec for images we write and read back ourselves (object store, feedback, generated images).

Untrusted request bytes (PNG or JPEG of any size) go through t2ialign.serving.images.decode_image, which checks
sizes and formats before decoding.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_png(image: np.ndarray | Image.Image) -> bytes:
    """(H, W, 3) uint8 (or a PIL image) -> PNG bytes (lossless; deterministic for the same pixels)."""
    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 3) uint8 RGB."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
