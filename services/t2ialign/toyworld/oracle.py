"""Oracle rater: decides exactly whether an image shows a prompt. It uses no learned model.

1. Label each pixel by its nearest reference color: an object color or a background palette color.
2. Background = the background whose palette won most non-object pixels (each votes for its nearest
   background color).
3. Objects = connected components of pixels of one object color (tiny specks ignored); each one's
   shape is the shape template with the highest soft IoU, its color the majority pixel color.
   Components larger than any drawn shape are background tinted toward an object color (generated
   images drift from the palette), and vote for the background instead.
4. The image matches when the count, every object's shape and color, and the background agree with
   what the prompt states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from t2ialign.toyworld.grammar import BACKGROUNDS, COLORS, OBJECTS, PromptSpec, parse_prompt
from t2ialign.toyworld.render import shape_mask, shape_sizes

# Representative colors of each background texture (see render.background_texture).
BACKGROUND_PALETTE: dict[str, tuple[tuple[int, int, int], ...]] = {
    "desert": ((205, 180, 130), (219, 193, 140), (191, 167, 120)),
    "snow": ((232, 236, 242), (205, 212, 225)),
    "night": ((20, 22, 48),),
    "city": ((128, 124, 122), (82, 80, 84)),
    "grass": ((78, 108, 52), (84, 125, 56), (72, 90, 48)),
}
assert set(BACKGROUND_PALETTE) == set(BACKGROUNDS)
TEMPLATE_RES = 12  # component masks are compared with shape templates at this resolution


@dataclass
class OracleVerdict:
    """What the oracle saw in one image, and whether that matches the prompt."""

    match: bool
    count: int
    objects: list[str] = field(default_factory=list)  # detected shape of each component
    colors: list[str] = field(default_factory=list)  # detected color of each component
    background: str | None = None
    reasons: list[str] = field(default_factory=list)  # why it does not match (empty when it does)


def _soft_mask(mask: np.ndarray) -> np.ndarray:
    """Tight crop, padded to a square (so elongated blobs keep their aspect), at TEMPLATE_RES."""
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.uint8)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop * 255
    im = Image.fromarray(square).resize((TEMPLATE_RES, TEMPLATE_RES), Image.Resampling.BOX)
    return np.asarray(im, np.float32) / 255.0


class Oracle:
    """Exact judge of the toy world. `min_similarity` is the soft IoU a blob needs to count as a shape."""

    def __init__(self, min_similarity: float = 0.6, max_color_distance: float = 90.0, tinted_backgrounds: bool = True):
        self.min_similarity = min_similarity
        self.max_color_distance = max_color_distance
        # Generated backgrounds drift from the palette (lime grass, yellowish sand): object-colored regions far
        # larger than any drawn shape are then background texture, not objects (they vote for the background).
        self.tinted_backgrounds = tinted_backgrounds
        refs, labels = [], []
        for name, rgb in COLORS.items():
            refs.append(rgb)
            labels.append(("object", name))
        for name, palette in BACKGROUND_PALETTE.items():
            for rgb in palette:
                refs.append(rgb)
                labels.append(("background", name))
        self._refs = np.array(refs, np.float32)  # (R, 3)
        self._labels = labels
        self._n_colors = len(COLORS)
        self._templates: dict[int, list[tuple[str, np.ndarray]]] = {}

    def _shape_templates(self, height: int) -> list[tuple[str, np.ndarray]]:
        if height not in self._templates:
            self._templates[height] = [(o, _soft_mask(shape_mask(o, s))) for o in OBJECTS for s in shape_sizes(height)]
        return self._templates[height]

    def _classify_shape(self, mask: np.ndarray, height: int) -> tuple[str, float]:
        """Best-matching shape and its soft IoU; 0 similarity for blobs far outside the drawn sizes."""
        ys, xs = np.nonzero(mask)
        side, sizes = max(np.ptp(ys), np.ptp(xs)) + 1, shape_sizes(height)
        if not 0.6 * min(sizes) <= side <= 1.35 * max(sizes):
            return "none", 0.0
        soft = _soft_mask(mask)
        best, best_sim = OBJECTS[0], -1.0
        for obj, tmpl in self._shape_templates(height):
            sim = float(np.minimum(soft, tmpl).sum() / np.maximum(soft, tmpl).sum())
            if sim > best_sim:
                best, best_sim = obj, sim
        return best, best_sim

    def _components(self, is_obj: np.ndarray, nearest: np.ndarray, h: int) -> tuple[np.ndarray, int]:
        """Connected components of object pixels, one color at a time (touching regions of two colors stay apart)."""
        comps, n = np.zeros((h, len(is_obj) // h), np.int32), 0
        for color in np.unique(nearest[is_obj]):
            labels, k = ndimage.label((is_obj & (nearest == color)).reshape(h, -1))
            comps[labels > 0] = labels[labels > 0] + n
            n += k
        return comps, n

    def _drop_oversized(self, comps: np.ndarray, n: int, height: int) -> np.ndarray:
        """The object mask without components whose extent exceeds every shape the renderer draws."""
        limit = 1.35 * max(shape_sizes(height))
        keep = np.zeros(n + 1, bool)
        for i, sl in enumerate(ndimage.find_objects(comps), start=1):
            keep[i] = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) <= limit
        return keep[comps]

    def describe(self, image: np.ndarray) -> OracleVerdict:
        """Detect the scene in an (H, W, 3) uint8 image; `match` is True when the scene is well formed."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        h = image.shape[0]
        px = image.reshape(-1, 3).astype(np.float32)
        dist = np.linalg.norm(px[:, None, :] - self._refs[None], axis=-1)  # (H*W, R)
        nearest = dist.argmin(1)
        near_d = dist[np.arange(len(px)), nearest]
        is_obj = (nearest < self._n_colors) & (near_d <= self.max_color_distance)
        comps, n = self._components(is_obj, nearest, h)
        if self.tinted_backgrounds:
            kept = self._drop_oversized(comps, n, h)
            comps, is_obj = comps * kept, kept.reshape(-1)  # dropped labels stay unused (step 3 skips them)
            bg_nearest = dist[:, self._n_colors :].argmin(1) + self._n_colors  # nearest background color
            nearest = np.where(is_obj | (nearest >= self._n_colors), nearest, bg_nearest)
        # 2. Background vote over the remaining pixels.
        bg_votes = np.bincount(nearest[~is_obj], minlength=len(self._labels))
        votes: dict[str, int] = {}
        for i, (kind, name) in enumerate(self._labels):
            if kind == "background":
                votes[name] = votes.get(name, 0) + int(bg_votes[i])
        background = max(votes, key=votes.get) if sum(votes.values()) else None
        # 3. Objects.
        min_area = max(4, round(12 * (h / 32) ** 2))
        color_names = list(COLORS)
        objects, colors, reasons = [], [], []
        for i in range(1, n + 1):
            comp = comps == i
            if comp.sum() < min_area:
                continue
            shape, sim = self._classify_shape(comp, h)
            color_idx = np.bincount(nearest.reshape(h, -1)[comp], minlength=self._n_colors)[: self._n_colors]
            objects.append(shape)
            colors.append(color_names[int(color_idx.argmax())])
            if sim < self.min_similarity:
                reasons.append(f"a blob matches no shape (best {shape}, similarity {sim:.2f})")
        return OracleVerdict(not reasons, len(objects), objects, colors, background, reasons)

    def judge(self, image: np.ndarray, prompt: PromptSpec | str) -> OracleVerdict:
        """Does `image` show `prompt`? Checks count, object, color and background where stated."""
        spec = parse_prompt(prompt) if isinstance(prompt, str) else prompt
        v = self.describe(image)
        if v.count != spec.count:
            v.reasons.append(f"count {v.count} != {spec.count}")
        if any(o != spec.object for o in v.objects):
            v.reasons.append(f"objects {sorted(set(v.objects))} != {spec.object}")
        if spec.color and any(c != spec.color for c in v.colors):
            v.reasons.append(f"colors {sorted(set(v.colors))} != {spec.color}")
        if spec.background and v.background != spec.background:
            v.reasons.append(f"background {v.background} != {spec.background}")
        v.match = not v.reasons
        return v

    def judge_batch(self, images: np.ndarray, prompts: list[PromptSpec | str]) -> np.ndarray:
        """Boolean match per image for a (B, H, W, 3) uint8 batch."""
        return np.array([self.judge(img, p).match for img, p in zip(images, prompts, strict=True)])
