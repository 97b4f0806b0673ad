"""Image grids: one row per prompt, labeled, upscaled so that 32x32 samples are visible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def grid_image(rows: list[np.ndarray], labels: list[str] | None = None, scale: int = 4, pad: int = 2) -> Image.Image:
    """rows: list of (K, H, W, 3) uint8 arrays -> one PIL image with an optional label column."""
    k = max(len(r) for r in rows)
    h, w = rows[0].shape[1] * scale, rows[0].shape[2] * scale
    label_w = 230 if labels else 0
    canvas = Image.new("RGB", (label_w + k * (w + pad) + pad, len(rows) * (h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        y = pad + r * (h + pad)
        if labels:
            draw.text((4, y + h // 2 - 6), labels[r], fill=(0, 0, 0))
        for c, img in enumerate(row):
            tile = Image.fromarray(img).resize((w, h), Image.Resampling.NEAREST)
            canvas.paste(tile, (label_w + pad + c * (w + pad), y))
    return canvas


def save_grid(rows: list[np.ndarray], labels: list[str] | None, path: str | Path, scale: int = 4) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image(rows, labels, scale).save(path)
    return path
