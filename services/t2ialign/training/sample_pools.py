"""Rated sample pools from the shipped base model, cached on disk: the fine-tuning and reward-head benchmarks'
shared data, so that arms compared side by side train on the very same samples.

A pool holds images, prompts, the simulated raters' labels (-1: skipped) and the oracle's verdicts.
"""

from __future__ import annotations

import functools
import random

import numpy as np

from t2ialign.models.loading import load_generator
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.paths import REPO_ROOT
from t2ialign.toyworld.grammar import CATEGORIES, SEEN_OBJECTS, PromptSpec, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import collect_feedback

CACHE = REPO_ROOT / "runs" / "finetune_arms"
POOLS = {  # name: (seed, sampler steps, per category, images per prompt; per category 0 = every count prompt)
    "s0": (0, 10, 20, 9),
    "s1": (1, 10, 20, 9),
    "s0_20": (0, 20, 20, 9),
    "count": (2, 10, 0, 60),
}


@functools.cache
def base_pipe() -> ToyPipeline:
    """The shipped base generator, loaded once and only when something is drawn."""
    return load_generator("base")


def sample_pool(name: str, smoke: bool = False) -> dict[str, np.ndarray]:
    """Load or draw pool `name` of POOLS ("smoke": a few prompts, 3 images, 2 sampler steps)."""
    if name not in POOLS:
        raise ValueError(f"pool {name!r} not found; available: {', '.join(POOLS)}")
    path = CACHE / f"{name}{'_smoke' if smoke else ''}.npz"
    if not path.exists():
        seed, steps, per_cat, k = POOLS[name]
        if per_cat:
            rng = random.Random(seed * 7_919 + 1)
            prompts = [sample_prompt(rng, c, SEEN_OBJECTS, 4) for c in CATEGORIES for _ in range(per_cat)]
        else:
            prompts = [PromptSpec(o, count=c, category="count") for o in SEEN_OBJECTS for c in range(1, 5)]
        prompts, k, steps = (prompts[:: per_cat or 5], 3, 2) if smoke else (prompts, k, steps)
        fs = collect_feedback(
            base_pipe(), prompts, k, SimulatedRaters(seed=seed), seed, name, num_inference_steps=steps
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        truth = Oracle().judge_batch(fs.images, fs.prompts)
        labels = np.array([-1 if y is None else y for y in fs.labels])  # the simulated raters' verdicts; -1 skipped
        np.savez_compressed(path, images=fs.images, prompts=np.array(fs.prompts), labels=labels, truth=truth)
    return dict(np.load(path))
