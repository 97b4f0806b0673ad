"""A fine-tuned UNet against the base by the evaluation protocol of a preset (evaluation/protocol.py): oracle
alignment, the simulated nine-rater panel, fidelity and diversity, and optionally best-of-16 by a saved r_phi;
the same measurement `t2ialign reproduce --preset <preset> --seed <seed>` makes of its models.

Usage: .venv/bin/python benchmarks/compare_unet.py runs/rounds_s1/models/rounds/r1/unet [--reward .../r1/reward]
[--preset rounds] [--seed 1] [--prompts-per-category 8] (~5 minutes on 2 CPU cores at the rounds preset's 80
prompts; with --reward, ~6 more for the 16 base samples per prompt; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import json

import torch

from t2ialign.evaluation.presets import PRESETS, preset_protocol
from t2ialign.evaluation.protocol import BEST_OF, evaluate
from t2ialign.models.loading import load_generator
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import load_unet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("unet", help="a UNet folder (diffusers format with manifest), e.g. OUT/models/rounds/r1/unet")
    ap.add_argument("--reward", help="an r_phi folder: adds best-of-16 from the base, ranked by it")
    ap.add_argument("--preset", default="rounds", choices=sorted(PRESETS), help="whose evaluation protocol")
    ap.add_argument("--seed", type=int, default=0, help="the protocol's seed (the preset run's --seed)")
    ap.add_argument("--prompts-per-category", type=int, help="evaluation prompts per split and category")
    ap.add_argument("--smoke", action="store_true", help="the smoke preset's protocol: checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = load_generator("base")
    protocol = preset_protocol("smoke" if args.smoke else args.preset, args.seed, args.prompts_per_category)
    ranker = RewardModel.load(args.reward, base.text_encoder) if args.reward else None
    pairs = [("finetuned", "base")] + ([(BEST_OF, "base"), ("finetuned", BEST_OF)] if ranker else [])
    result = evaluate(base, protocol, {"base": None, "finetuned": load_unet(args.unet)}, pairs, ranker=ranker)
    models = {name: m for name, m in result.models.items() if name != "clean_renders"}
    print(json.dumps(models), flush=True)
    headline = {
        "fidelity_ratio": round(models["finetuned"]["fidelity"]["all"] / models["base"]["fidelity"]["all"], 3),
        "diversity_ratio": round(models["finetuned"]["diversity"] / models["base"]["diversity"], 3),
        **{f"panel_{name}": {k: v for k, v in p.items() if k != "by_category"} for name, p in result.panels.items()},
    }
    print(json.dumps(headline), flush=True)


if __name__ == "__main__":
    main()
