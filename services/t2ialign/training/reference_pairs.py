"""Reference pairs for r_phi's training set: clean renders of feedback prompts beside one-attribute mismatches.

r_phi learns only from the base generator's samples (Lee et al. 2023 §3.1), which are blurry and often wrong in
several attributes at once, so it never sees the contrast "this exact prompt, rendered right" against "the same
scene with one attribute changed". A pair here is a clean render of a prompt z and a render, with the same
layout seed, of z with one stated attribute swapped (grammar.perturb, seen objects only, so the unseen object
stays unseen); both are shown to the simulated raters against z, who label them as they label generated images
(flips and skips included). It is the toy world's stand-in for captioned reference images with hard negatives.
Whether it helps is measured, not assumed: docs/REWARD_MODEL.md, "Which head".
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from t2ialign.toyworld.grammar import SEEN_OBJECTS, PromptSpec, max_count, perturb
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.toyworld.render import render

SEED_OFFSET = 7_000_000  # render seeds apart from the evaluation's mismatch pairs (reward_accuracy.mismatch_pairs)


def reference_pairs(
    prompts: Sequence[PromptSpec], n: int, seed: int = 0, size: int = 32
) -> tuple[np.ndarray, list[str], list[int | None]]:
    """`n` pairs over `prompts` (shuffled, in turn): images (2n, size, size, 3) uint8 as matching, mismatching,
    matching, ...; the prompt of each (z for both images of a pair); the simulated raters' labels."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n and not prompts:
        raise ValueError("reference pairs need at least one prompt")
    rng, most = random.Random(seed), max_count(size)
    order = list(prompts)
    rng.shuffle(order)
    images: list[np.ndarray] = []
    texts: list[str] = []
    for i in range(n):
        spec = order[i % len(order)]
        other = perturb(spec, rng.choice(spec.present_attributes), rng, objects=SEEN_OBJECTS, max_objects=most)
        render_seed = SEED_OFFSET + seed * 100_003 + i
        images += [render(spec, render_seed, size), render(other, render_seed, size)]
        texts += [spec.text, spec.text]
    if not images:
        return np.zeros((0, size, size, 3), np.uint8), [], []
    stacked = np.stack(images)
    return stacked, texts, SimulatedRaters(seed=SEED_OFFSET + seed).rate(stacked, texts)
