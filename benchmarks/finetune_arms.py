"""Fine-tuning arms side by side on cached sample pools (docs/REPRODUCTION.md, "What moves alignment in one
round"). Weights are the oracle's verdicts, so the arms measure fine-tuning, not the reward model, unless an
arm names `"reward"`: then r_phi, trained on the pools' rater labels, weighs every sample (Eq. 3).

1. Pools of samples from the shipped base (`training.sample_pools`, cached under runs/finetune_arms/).
2. Each arm fine-tunes the base (`FinetuneConfig` overrides; `"zero": true` zeroes every model-sample weight: the
   corpus-only control; `"reward": {RewardTrainConfig overrides}` trains r_phi on the raters' labels and uses
   its weights instead of the oracle's), then is measured by the evaluation protocol of --preset
   (evaluation/protocol.py) plus every count prompt x 8, and prints one line.

Usage: .venv/bin/python benchmarks/finetune_arms.py --pools s0,s1,s0_20 --arms '{"control": {"zero": true,
"steps": 300}, ...}' [--prompts-per-category 8] (each 300-step arm ~8.5 min + 3.5 min evaluation on 2 CPU
cores at 8 prompts per cell; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from t2ialign.evaluation.presets import PRESETS, preset_protocol
from t2ialign.evaluation.protocol import model_figures
from t2ialign.training.feedback import FeedbackSet
from t2ialign.training.finetune import FinetuneConfig, finetune_unet
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model
from t2ialign.training.sample_pools import POOLS, base_pipe, sample_pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pools", default="s0,s1,s0_20", help=f"comma-separated, of {', '.join(POOLS)}")
    ap.add_argument(
        "--arms",
        default='{"control_ema": {"zero": true, "steps": 300, "ema_decay": 0.99}}',
        help='JSON {name: FinetuneConfig overrides}; "zero": true for the corpus-only control',
    )
    ap.add_argument("--base", action="store_true", help="evaluate the base model first")
    ap.add_argument("--preset", default="rounds", choices=sorted(PRESETS), help="whose evaluation protocol")
    ap.add_argument("--seed", type=int, default=0, help="the protocol's seed")
    ap.add_argument("--prompts-per-category", type=int, help="evaluation prompts per split and category")
    ap.add_argument("--smoke", action="store_true", help="tiny pools, 1 step, 2 sampler steps: checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pipe = base_pipe()
    protocol = preset_protocol("smoke" if args.smoke else args.preset, args.seed, args.prompts_per_category)
    count_images = 2 if args.smoke else 8
    data = [sample_pool(n, args.smoke) for n in args.pools.split(",")]
    images = np.concatenate([d["images"] for d in data])
    prompts = [str(p) for d in data for p in d["prompts"]]
    truth = np.concatenate([d["truth"] for d in data]).astype(int)
    rated = [None if y < 0 else int(y) for d in data for y in d["labels"]]  # the raters' labels; None skipped
    print(json.dumps({"pool": len(prompts), "accepted": round(float(truth.mean()), 3)}), flush=True)
    if args.base:
        print("base", json.dumps(model_figures(pipe, protocol, None, count_images)), flush=True)
    for name, overrides in json.loads(args.arms).items():
        zero, reward_overrides = overrides.pop("zero", False), overrides.pop("reward", None)
        reward, labels = None, [0 if zero else int(t) for t in truth]
        if reward_overrides is not None:  # r_phi's weights (label_source "reward"), trained on the raters' labels
            labels = rated
            reward_cfg = RewardTrainConfig(**reward_overrides, **({"epochs": 1} if args.smoke else {}))
            reward = train_reward_model(pipe.text_encoder, images, prompts, rated, reward_cfg)
        fs = FeedbackSet(images, prompts, labels, [str(i) for i in range(len(prompts))], "arms")
        source = {"label_source": "human" if reward is None else "reward"}
        cfg = FinetuneConfig(**{**source, **overrides, **({"steps": 1} if args.smoke else {})})
        unet = finetune_unet(pipe, reward, fs, cfg, progress=False)
        print(name, json.dumps(model_figures(pipe, protocol, unet, count_images)), flush=True)


if __name__ == "__main__":
    main()
