"""Oracle alignment per prompt category, for seen and unseen prompts (`t2ialign eval`)."""

from __future__ import annotations

import random

import numpy as np

from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.toyworld.grammar import CATEGORIES, SEEN_OBJECTS, UNSEEN_OBJECTS, PromptSpec, sample_prompt
from t2ialign.toyworld.oracle import Oracle

SPLITS: dict[str, tuple[str, ...]] = {"seen": SEEN_OBJECTS, "unseen": UNSEEN_OBJECTS}


def eval_prompts(prompts_per_category: int, seed: int = 1234) -> dict[str, dict[str, list[PromptSpec]]]:
    """Fixed evaluation prompts: {split: {category: [PromptSpec, ...]}}, the same for every model."""
    rng = random.Random(seed)
    return {
        split: {cat: [sample_prompt(rng, cat, objects) for _ in range(prompts_per_category)] for cat in CATEGORIES}
        for split, objects in SPLITS.items()
    }


def flat_eval_prompts(prompts_per_category: int, seed: int = 1234) -> tuple[list[PromptSpec], list[str]]:
    """`eval_prompts` as one list (seen first, category by category) and the split of each prompt."""
    prompts, splits = [], []
    for split, by_cat in eval_prompts(prompts_per_category, seed).items():
        for cat_prompts in by_cat.values():
            prompts += cat_prompts
            splits += [split] * len(cat_prompts)
    return prompts, splits


def generate_for_prompts(
    pipe: ToyPipeline,
    prompts: list[PromptSpec],
    images_per_prompt: int,
    seed: int = 0,
    num_inference_steps: int = 20,
    guidance_scale: float = 4.0,
    chunk_images: int = 128,
    unet=None,
    desc: str | None = None,
    sampler: str | None = None,
) -> np.ndarray:
    """(P, K, H, W, 3) uint8: K images for each prompt, in chunks; a chunk starting at prompt i uses seed `seed + i`.

    `desc` shows a progress bar with that label; `sampler` None is the pipeline's default.
    """
    per_chunk = max(1, chunk_images // images_per_prompt)
    out = []
    starts = range(0, len(prompts), per_chunk)
    if desc:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    for start in starts:
        chunk = prompts[start : start + per_chunk]
        imgs = pipe(
            [p.text for p in chunk],
            num_images=images_per_prompt,
            seed=seed + start,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            unet=unet,
            sampler=sampler,
        )
        out.append(imgs.reshape(len(chunk), images_per_prompt, *imgs.shape[1:]))
    return np.concatenate(out)


def oracle_matches(images: np.ndarray, prompts: list[PromptSpec], oracle: Oracle | None = None) -> np.ndarray:
    """(P, K) oracle verdicts for (P, K, H, W, 3) images."""
    oracle = oracle or Oracle()
    return np.array([[oracle.judge(img, p).match for img in row] for row, p in zip(images, prompts, strict=True)])


def oracle_rates(images: np.ndarray, prompts: list[PromptSpec], oracle: Oracle | None = None) -> np.ndarray:
    """(P,) share of each prompt's images that the oracle accepts; images is (P, K, H, W, 3)."""
    return oracle_matches(images, prompts, oracle).mean(1)


def alignment_by_category(
    matches: np.ndarray, prompts: list[PromptSpec], splits: list[str]
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """From (P, K) verdicts: {split: {category: rate}} and {split: rate, "all": rate} (prompts weigh equally)."""
    rates = matches.mean(1)
    cats, spl = np.array([p.category for p in prompts]), np.array(splits)
    table = {
        s: {
            c: round(float(rates[(spl == s) & (cats == c)].mean()), 4)
            for c in CATEGORIES
            if ((spl == s) & (cats == c)).any()
        }
        for s in dict.fromkeys(splits)
    }
    overall = {s: round(float(rates[spl == s].mean()), 4) for s in dict.fromkeys(splits)}
    overall["all"] = round(float(rates.mean()), 4)
    return table, overall


def evaluate_alignment(
    pipe: ToyPipeline,
    prompts_per_category: int = 16,
    images_per_prompt: int = 4,
    seed: int = 1234,
    num_inference_steps: int = 20,
    guidance_scale: float = 4.0,
    progress: bool = False,
    sampler: str | None = None,
) -> dict[str, dict[str, float]]:
    """{"seen": {category: oracle alignment rate}, "unseen": {...}} over fixed prompts and seeds.

    `progress` shows one bar per split and category (on stderr).
    """
    oracle = Oracle()
    result: dict[str, dict[str, float]] = {}
    for split, by_cat in eval_prompts(prompts_per_category, seed).items():
        result[split] = {}
        for cat, prompts in by_cat.items():
            images = generate_for_prompts(
                pipe,
                prompts,
                images_per_prompt,
                seed,
                num_inference_steps,
                guidance_scale,
                desc=f"eval {split}/{cat}" if progress else None,
                sampler=sampler,
            )
            result[split][cat] = round(float(oracle_rates(images, prompts, oracle).mean()), 4)
    return result
