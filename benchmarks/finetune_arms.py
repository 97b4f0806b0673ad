"""Fine-tuning arms side by side on cached sample pools (docs/REPRODUCTION.md, "Is it the reward weights, or
fine-tuning itself?"). Weights are the oracle's verdicts, so the arms measure fine-tuning, not the reward model,
unless an arm names `"reward"`: then r_phi, trained on the pools' rater labels, weighs every sample (Eq. 3).

1. Pools of samples from the shipped base, cached as .npz with the oracle's verdicts (regenerated only if absent):
   "s0", "s1" (20 seen prompts per category x 9, 10 sampler steps), "s0_20" (the same at 20 steps), and
   "count" (every seen count prompt x 60).
2. Each arm fine-tunes the base (`FinetuneConfig` overrides; `"zero": true` zeroes every model-sample weight: the
   corpus-only control; `"reward": {RewardTrainConfig overrides}` trains r_phi on the raters' labels and uses
   its weights instead of the oracle's), then generates 64 evaluation prompts (8 per split and category) x 4
   and every count prompt x 8, at 10 steps with fixed seeds, and prints one line of oracle alignment.

Usage: .venv/bin/python benchmarks/finetune_arms.py --pools s0,s1,s0_20 --arms '{"control": {"zero": true,
"steps": 300}, ...}'  (each 300-step arm ~8.5 min + 3.5 min evaluation on 2 CPU cores; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import functools
import json
import random

import numpy as np
import torch

from t2ialign.evaluation.alignment import (
    alignment_by_category,
    flat_eval_prompts,
    generate_for_prompts,
    load_generator,
    oracle_matches,
)
from t2ialign.paths import REPO_ROOT
from t2ialign.toyworld.grammar import CATEGORIES, SEEN_OBJECTS, UNSEEN_OBJECTS, PromptSpec, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import FeedbackSet, collect_feedback
from t2ialign.training.finetune import FinetuneConfig, finetune_unet
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model

CACHE = REPO_ROOT / "runs" / "finetune_arms"
POOLS = {  # name: (seed, sampler steps, per category, images per prompt; per category 0 = every count prompt)
    "s0": (0, 10, 20, 9),
    "s1": (1, 10, 20, 9),
    "s0_20": (0, 20, 20, 9),
    "count": (2, 10, 0, 60),
}


@functools.cache
def base_pipe():
    """The shipped base generator, loaded once and only when something is drawn."""
    return load_generator("base")


def json_overrides(overrides: dict) -> dict:
    """Config overrides parsed from JSON: lists become tuples, as the config dataclasses hold them."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}


def pool(name: str, smoke: bool) -> dict[str, np.ndarray]:
    """Load or draw one pool: images, prompts, the raters' labels and the oracle's verdicts."""
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


def evaluate(pipe, unet, smoke: bool) -> dict:
    """Oracle alignment overall, by split and category, and on every count prompt by number."""
    prompts, splits = flat_eval_prompts(1 if smoke else 8, seed=1234)
    k, steps = (1, 2) if smoke else (4, 10)
    m = oracle_matches(generate_for_prompts(pipe, prompts, k, 10_000, num_inference_steps=steps, unet=unet), prompts)
    table, overall = alignment_by_category(m, prompts, splits)
    counts = [PromptSpec(o, count=c, category="count") for o in SEEN_OBJECTS + UNSEEN_OBJECTS for c in range(1, 5)]
    mc = oracle_matches(generate_for_prompts(pipe, counts, 2 if smoke else 8, 20_000, steps, unet=unet), counts)
    seen = np.array([p.object in SEEN_OBJECTS for p in counts])
    by_number = {c: round(float(mc[seen & np.array([p.count == c for p in counts])].mean()), 3) for c in range(1, 5)}
    return {
        **overall,
        "by_category": table,
        "seen_counts": by_number,
        "seen_counts_all": round(float(mc[seen].mean()), 3),
        "unseen_counts": round(float(mc[~seen].mean()), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", default="s0,s1,s0_20", help=f"comma-separated, of {', '.join(POOLS)}")
    ap.add_argument(
        "--arms",
        default='{"control_ema": {"zero": true, "steps": 300, "ema_decay": 0.99}}',
        help='JSON {name: FinetuneConfig overrides}; "zero": true for the corpus-only control',
    )
    ap.add_argument("--base", action="store_true", help="evaluate the base model first")
    ap.add_argument("--smoke", action="store_true", help="tiny pools, 1 step, 2 sampler steps: checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pipe = base_pipe()
    data = [pool(n, args.smoke) for n in args.pools.split(",")]
    images = np.concatenate([d["images"] for d in data])
    prompts = [str(p) for d in data for p in d["prompts"]]
    truth = np.concatenate([d["truth"] for d in data]).astype(int)
    rated = [None if y < 0 else int(y) for d in data for y in d["labels"]]  # the raters' labels; None skipped
    print(json.dumps({"pool": len(prompts), "accepted": round(float(truth.mean()), 3)}), flush=True)
    if args.base:
        print("base", json.dumps(evaluate(pipe, None, args.smoke)), flush=True)
    for name, overrides in json.loads(args.arms).items():
        zero, reward_overrides = overrides.pop("zero", False), overrides.pop("reward", None)
        reward, labels = None, [0 if zero else int(t) for t in truth]
        if reward_overrides is not None:  # r_phi's weights (label_source "reward"), trained on the raters' labels
            labels = rated
            reward_cfg = RewardTrainConfig(**json_overrides(reward_overrides), **({"epochs": 1} if args.smoke else {}))
            reward = train_reward_model(pipe.text_encoder, images, prompts, rated, reward_cfg)
        fs = FeedbackSet(images, prompts, labels, [str(i) for i in range(len(prompts))], "arms")
        source = {"label_source": "human" if reward is None else "reward"}
        cfg = FinetuneConfig(**{**source, **overrides, **({"steps": 1} if args.smoke else {})})
        unet = finetune_unet(pipe, reward, fs, cfg, progress=False)
        print(name, json.dumps(evaluate(pipe, unet, args.smoke)), flush=True)


if __name__ == "__main__":
    main()
