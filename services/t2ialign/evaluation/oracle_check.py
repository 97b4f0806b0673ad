"""`t2ialign world check-oracle`: the oracle's accuracy on fresh clean renders (docs/METHOD.md: >= 99%)."""

from __future__ import annotations

import random

from t2ialign.toyworld.grammar import ATTRIBUTES, OBJECTS, max_count, perturb, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.render import render


def check_oracle(n: int = 2000, seed: int = 0, size: int = 32) -> dict:
    """Accept rate on matching prompts and reject rate per perturbed attribute, over `n` renders.

    Scenes are combination prompts (every attribute stated), so each kind of perturbation applies.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng, oracle = random.Random(seed), Oracle()
    accepted, rejected = 0, dict.fromkeys(ATTRIBUTES, 0)
    for i in range(n):
        spec = sample_prompt(rng, "combination", OBJECTS, max_objects=max_count(size))
        image = render(spec, seed=rng.getrandbits(31) + i, size=size)
        accepted += oracle.judge(image, spec).match
        for attr in ATTRIBUTES:
            wrong = perturb(spec, attr, rng, max_objects=max_count(size))
            rejected[attr] += not oracle.judge(image, wrong).match
    return {"accept": accepted / n, "reject": {a: r / n for a, r in rejected.items()}, "n": n, "size": size}
