"""A fine-tuned UNet against the base on the issue's headline measures, on a larger evaluation than the quick
preset's: oracle alignment, the simulated nine-rater panel (four images against four per prompt), fidelity
(Fréchet distance to clean renders in toy-CLIP space) and diversity, and optionally best-of-16 by a saved r_phi.

Evaluation prompts and seeds are benchmarks/finetune_arms.py's (8 per split and category, seed 1234; 4 images
per prompt at 10 sampler steps, seed 10,000), so the alignment figures match its lines.

Usage: .venv/bin/python benchmarks/compare_unet.py runs/s13/rounds_seed1/r1/unet [--reward .../r1/reward]
(~4 minutes on 2 CPU cores; with --reward, ~5 more for the 16 base samples per prompt; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import json

import torch

from t2ialign.evaluation.alignment import (
    alignment_by_category,
    flat_eval_prompts,
    generate_for_prompts,
    load_generator,
    oracle_matches,
)
from t2ialign.evaluation.best_of_n import score_sets, select_top
from t2ialign.evaluation.fidelity import clean_renders, diversity, image_embeddings, pooled_frechet_distance
from t2ialign.evaluation.panel import panel_from_matches
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import load_unet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("unet", help="a UNet folder (diffusers format with manifest), e.g. OUT/r1/unet")
    ap.add_argument("--reward", help="an r_phi folder: adds best-of-16 from the base, ranked by it")
    ap.add_argument("--smoke", action="store_true", help="1 prompt per cell, 2 sampler steps: checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = load_generator("base")
    prompts, splits = flat_eval_prompts(1 if args.smoke else 8, seed=1234)
    k, steps = 4, 2 if args.smoke else 10
    images = {
        name: generate_for_prompts(base, prompts, k, 10_000, steps, unet=unet)
        for name, unet in (("base", None), ("finetuned", load_unet(args.unet)))
    }
    if args.reward:
        reward = RewardModel.load(args.reward, base.text_encoder)
        pool = generate_for_prompts(base, prompts, 16, 20_000, steps)
        images["best_of_16"], _ = select_top(pool, score_sets(reward, pool, prompts), k)
    ref = image_embeddings(base.text_encoder, clean_renders(prompts, k, seed=30_000, size=base.resolution))
    results, matches = {}, {}
    for name, imgs in images.items():
        matches[name] = oracle_matches(imgs, prompts)
        table, overall = alignment_by_category(matches[name], prompts, splits)
        emb = image_embeddings(base.text_encoder, imgs)
        results[name] = {
            **overall,
            "by_category": table,
            "diversity": round(diversity(emb), 5),
            "fidelity": round(pooled_frechet_distance(emb, ref), 5),
        }
    print(json.dumps(results), flush=True)
    headline = {
        "fidelity_ratio": round(results["finetuned"]["fidelity"] / results["base"]["fidelity"], 3),
        "diversity_ratio": round(results["finetuned"]["diversity"] / results["base"]["diversity"], 3),
    }
    pairs = [("finetuned", "base")] + ([("best_of_16", "base"), ("finetuned", "best_of_16")] if args.reward else [])
    for a, b in pairs:
        headline[f"panel_{a}_vs_{b}"] = panel_from_matches(matches[a], matches[b]).by_split(splits)
    print(json.dumps(headline), flush=True)


if __name__ == "__main__":
    main()
