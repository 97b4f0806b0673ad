"""Pre-training corpus: clean renders paired with noisy web-like captions (docs/METHOD.md, "The toy world").

Captions are noisy the way web alt-text is: some give the wrong count, some leave the count, color or
background out. Miscounts happen among groups ("three" for four circles); a lone object is captioned
"a circle" and a group is never called "a circle". So, as with real models, "a red circle" is learnable
(the color and background categories) while "three circles" stays hard (the count category).
Every object appears here, the held-out (unseen) ones included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from t2ialign.toyworld.grammar import BACKGROUNDS, COLORS, COUNT_WORDS, OBJECTS, PLURALS, PromptSpec
from t2ialign.toyworld.render import Scene, draw_scene, layout_scene


@dataclass(frozen=True)
class CaptionNoise:
    """Probabilities of each caption defect. Defaults chosen so counts stay hard (docs/METHOD.md)."""

    wrong_count: float = 0.4  # a group's caption states a different group size (2..max) than the image shows
    drop_count: float = 0.2  # plural with no number ("red circles"); singular keeps "a"
    drop_color: float = 0.25  # color left out
    drop_background: float = 0.25  # background left out


def noisy_caption(scene: Scene, rng: random.Random, noise: CaptionNoise, max_objects: int = 4) -> str:
    """A web-like caption for `scene` with the configured defects."""
    count = scene.count
    if count > 1 and rng.random() < noise.wrong_count:
        count = rng.choice([c for c in range(2, max_objects + 1) if c != count])
    noun = scene.object if count == 1 else PLURALS[scene.object]
    words: list[str] = []
    if rng.random() >= noise.drop_color:
        words.append(scene.color)
    words.append(noun)
    if count == 1:
        words.insert(0, "an" if words[0][0] in "aeiou" else "a")
    elif rng.random() >= noise.drop_count:
        words.insert(0, COUNT_WORDS[count])
    if rng.random() >= noise.drop_background:
        words.append(BACKGROUNDS[scene.background])
    return " ".join(words)


def sample_scene(rng: random.Random, size: int = 32, max_objects: int = 4) -> tuple[Scene, int]:
    """A random fully specified scene over every object, and the seed that draws it."""
    seed = rng.getrandbits(31)
    spec = PromptSpec(
        rng.choice(OBJECTS),
        count=rng.randint(1, max_objects),
        color=rng.choice(list(COLORS)),
        background=rng.choice(list(BACKGROUNDS)),
    )
    return layout_scene(spec, seed, size), seed


def corpus_batch(
    rng: random.Random, batch_size: int, size: int = 32, noise: CaptionNoise | None = None
) -> tuple[np.ndarray, list[str], list[Scene]]:
    """(B, H, W, 3) uint8 images, their noisy captions, and the true scenes."""
    noise = noise or CaptionNoise()
    max_objects = 4 if size < 64 else 6
    images, captions, scenes = [], [], []
    for _ in range(batch_size):
        scene, seed = sample_scene(rng, size, max_objects)
        images.append(draw_scene(scene, seed, size))
        captions.append(noisy_caption(scene, rng, noise, max_objects))
        scenes.append(scene)
    return np.stack(images), captions, scenes
