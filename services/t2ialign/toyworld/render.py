"""Deterministic renderer: draws a prompt's scene from a seed.

Objects sit in distinct cells of a grid (2x2 at 32x32, 3x3 at 64x64) so they never touch, which keeps
counting exact. Attributes the prompt leaves open (color, background) are drawn from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from t2ialign.toyworld.grammar import BACKGROUNDS, COLORS, PromptSpec, max_count, parse_prompt

SHAPE_SIZES_32 = (9, 10, 11, 12)  # side of a shape's bounding box at 32x32 (16-pixel grid cells)


def shape_sizes(size: int) -> tuple[int, ...]:
    """Bounding-box sides used at this image size; shapes scale with the grid cell."""
    grid = 2 if size < 64 else 3
    return tuple(round(s * (size // grid) / 16) for s in SHAPE_SIZES_32)


@dataclass(frozen=True)
class Scene:
    """A fully specified scene: every attribute fixed, plus where each object sits."""

    object: str
    count: int
    color: str
    background: str
    boxes: tuple[tuple[int, int, int], ...]  # (top, left, size) of each object's bounding box


@lru_cache(maxsize=256)
def shape_mask(obj: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask of a shape, tested at pixel centers in [-1, 1] coordinates."""
    c = (np.arange(size) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(c, c, indexing="ij")
    r = np.sqrt(x * x + y * y)
    if obj == "circle":
        m = r <= 1.0
    elif obj == "square":
        m = np.ones_like(r, dtype=bool)
    elif obj == "triangle":  # apex up
        m = np.abs(x) <= (y + 1) / 2 + 1e-9
    elif obj == "diamond":
        m = np.abs(x) + np.abs(y) <= 1.0 + 1e-9
    elif obj == "cross":
        m = (np.abs(x) <= 0.36) | (np.abs(y) <= 0.36)
    elif obj == "ring":
        m = (r <= 1.0) & (r >= 0.52)
    else:
        raise ValueError(f"no mask for object {obj!r}")
    return m


def background_texture(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Procedural texture (size, size, 3) uint8 for a background. Each keeps a distinct muted palette."""
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    if name == "desert":  # sand with rolling dunes
        phase, freq = rng.uniform(0, 6.28), rng.uniform(0.25, 0.45) * 32 / size
        dune = 14 * np.sin(yy * freq + 2 * np.sin(xx * freq * 0.5 + phase))
        img[:] = (205, 180, 130)
        img += dune[..., None] * np.array([1.0, 0.9, 0.7])
        img += rng.normal(0, 4, (h, w, 1))
    elif name == "snow":  # near-white with grey speckles
        img[:] = (232, 236, 242)
        img += rng.normal(0, 5, (h, w, 1))
        flakes = rng.random((h, w)) < 0.08
        img[flakes] = (205, 212, 225)
    elif name == "night":  # dark navy sky with stars
        img[:] = (20, 22, 48)
        img += rng.normal(0, 3, (h, w, 1))
        stars = rng.random((h, w)) < 0.035
        img[stars] = (190, 190, 210)
    elif name == "city":  # grey brick wall, staggered rows
        img[:] = (128, 124, 122)
        img += rng.normal(0, 5, (h, w, 1))
        row_h, brick_w = max(3, size // 8), max(6, size // 4)
        off = rng.integers(0, brick_w)
        mortar = (yy % row_h == 0) | (((xx + off + (yy // row_h % 2) * brick_w // 2) % brick_w) == 0)
        img[mortar] = (82, 80, 84)
    elif name == "grass":  # olive green with vertical blades
        img[:] = (78, 108, 52)
        blades = rng.normal(0, 14, (1, w)) + rng.normal(0, 6, (h, w))
        img += blades[..., None] * np.array([0.4, 1.0, 0.3])
    else:
        raise ValueError(f"unknown background {name!r}; available: {', '.join(BACKGROUNDS)}")
    return np.clip(img, 0, 255).astype(np.uint8)


def layout_scene(spec: PromptSpec, seed: int, size: int = 32) -> Scene:
    """Fix every open attribute and every object's position from `seed`."""
    if spec.count > max_count(size):
        raise ValueError(f"{spec.count} objects do not fit a {size}x{size} image (max {max_count(size)})")
    rng = random.Random(seed)
    color = spec.color or rng.choice(list(COLORS))
    background = spec.background or rng.choice(list(BACKGROUNDS))
    grid = 2 if size < 64 else 3
    cell = size // grid
    cells = rng.sample(range(grid * grid), spec.count)
    boxes = []
    for c in cells:
        s = rng.choice(shape_sizes(size))
        top = (c // grid) * cell + rng.randint(1, cell - s - 1)
        left = (c % grid) * cell + rng.randint(1, cell - s - 1)
        boxes.append((top, left, s))
    return Scene(spec.object, spec.count, color, background, tuple(boxes))


def draw_scene(scene: Scene, seed: int, size: int = 32) -> np.ndarray:
    img = background_texture(scene.background, size, np.random.default_rng(seed))
    color = np.array(COLORS[scene.color], np.uint8)
    for top, left, s in scene.boxes:
        mask = shape_mask(scene.object, s)
        img[top : top + s, left : left + s][mask] = color
    return img


def render(prompt: PromptSpec | str, seed: int, size: int = 32) -> np.ndarray:
    """Render a prompt's scene: (size, size, 3) uint8 RGB, identical for the same (prompt, seed, size)."""
    spec = parse_prompt(prompt) if isinstance(prompt, str) else prompt
    return draw_scene(layout_scene(spec, seed, size), seed, size)
