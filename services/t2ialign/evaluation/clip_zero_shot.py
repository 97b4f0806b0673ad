"""Zero-shot accuracy of a CLIP backbone on clean renders, per attribute.

For each render of a combination prompt, the candidates are the true prompt and every prompt that
differs only in the attribute under test; the prediction is the candidate with the highest similarity.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import torch

from t2ialign.models.clip import ClipBackbone
from t2ialign.toyworld.grammar import BACKGROUNDS, COLORS, OBJECTS, sample_prompt
from t2ialign.toyworld.render import render


@torch.no_grad()
def zero_shot_accuracy(clip: ClipBackbone, n: int = 500, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    specs = [sample_prompt(rng, "combination", OBJECTS) for _ in range(n)]
    images = np.stack([render(s, seed=rng.getrandbits(31)) for s in specs])
    img_emb = clip.encode_images(images)  # (n, D)
    options = {
        "count": lambda s: [replace(s, count=c) for c in range(1, 5)],
        "color": lambda s: [replace(s, color=c) for c in COLORS],
        "object": lambda s: [replace(s, object=o) for o in OBJECTS],
        "background": lambda s: [replace(s, background=b) for b in BACKGROUNDS],
    }
    result = {}
    for attr, make in options.items():
        correct = 0
        for i, spec in enumerate(specs):
            cands = make(spec)
            txt = clip.encode_text([c.text for c in cands])  # (C, D)
            pred = cands[int((txt @ img_emb[i]).argmax())]
            correct += pred == spec
        result[attr] = round(correct / n, 4)
    result["chance"] = {"count": 0.25, "color": 1 / len(COLORS), "object": 1 / len(OBJECTS), "background": 0.2}
    return result
