"""Reward heads against CLIP score on unseen prompts, by the number of rated images (docs/REPRODUCTION.md,
"The reward model: how many labels, and L_pc"). Lee et al. 2023 §4.2: r_phi predicts human judgments better than CLIP
score, and L_pc helps on unseen prompts.

1. Training sets: the rated sample pools of `training.sample_pools` (shipped base, simulated raters' labels,
   skips dropped), cached in runs/finetune_arms/ and added one after another ("s0", then "s0,s1", ...).
2. Test pool: 64 evaluation prompts (8 per split and category, seed 4321) x 8 images at 10 sampler steps,
   judged by the oracle (evaluation/reward_test_pool.py; cached as runs/finetune_arms/test.npz).
3. Per training set: CLIP score (threshold fit on the training labels) and each head (RewardTrainConfig
   overrides, mean over --seeds), as unseen and seen accuracy (threshold 0.5) and AUC, plus the head's unseen
   accuracy over CLIP score's.

Usage: .venv/bin/python benchmarks/reward_heads.py [--sizes "s0;s0,s1"] [--heads JSON] [--seeds 2]
(a head trains in 5-40 s on 2 CPU cores, 12 minutes for the default table; drawing the test pool takes
~4 minutes, the training pools see finetune_arms.py).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from t2ialign.evaluation.presets import NO_OBJECT_SWAPS
from t2ialign.evaluation.reward_accuracy import clip_scores
from t2ialign.evaluation.reward_test_pool import held_out_pool, split_figures
from t2ialign.models.clip import ClipBackbone
from t2ialign.paths import DEFAULT_CLIP
from t2ialign.toyworld.grammar import ATTRIBUTES
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model
from t2ialign.training.sample_pools import sample_pool

HEADS = {
    "without_pc": {"pc_weight": 0.0},
    "pc_paper": {"perturb_attributes": list(ATTRIBUTES)},  # T 2, lambda 0.5, any attribute swapped
    "pc_no_object": {"perturb_attributes": list(NO_OBJECT_SWAPS)},
    "pc_no_object_T0.1": {"perturb_attributes": list(NO_OBJECT_SWAPS), "temperature": 0.1},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        default="s0;s0,s1;s0,s1,s0_20;s0,s1,s0_20,count",
        help="training sets, ';'-separated, each a comma list of finetune_arms pools",
    )
    ap.add_argument("--heads", default=json.dumps(HEADS), help="JSON {name: RewardTrainConfig overrides}")
    ap.add_argument("--seeds", type=int, default=2, help="heads trained per setting; figures are their mean")
    args = ap.parse_args()
    torch.set_num_threads(2)
    clip = ClipBackbone.load(DEFAULT_CLIP)
    test = held_out_pool()
    test_prompts = [str(p) for p in test["prompts"]]
    clip_test = clip_scores(clip, test["images"], test_prompts)
    for size in args.sizes.split(";"):
        data = [sample_pool(n) for n in size.split(",")]
        labels = np.concatenate([d["labels"] for d in data])
        keep = labels >= 0
        images = np.concatenate([d["images"] for d in data])[keep]
        prompts = [str(p) for p in np.concatenate([d["prompts"] for d in data])[keep]]
        y = [int(v) for v in labels[keep]]
        clip_train = clip_scores(clip, images, prompts)
        base = split_figures(clip_train, y, test, {"clip_score": clip_test})["clip_score"]
        print(json.dumps({"train": size, "labeled": len(y), "head": "clip_score", **base}), flush=True)
        for name, overrides in json.loads(args.heads).items():
            heads = {
                f"seed{s}": train_reward_model(clip, images, prompts, y, RewardTrainConfig(seed=s, **overrides))
                .score(test["images"], test_prompts)
                .numpy()
                for s in range(args.seeds)
            }
            runs = split_figures(clip_train, y, test, heads)
            mean = {k: round(float(np.mean([r[k] for r in runs.values()])), 3) for k in base}
            ratio = round(mean["unseen_accuracy"] / base["unseen_accuracy"], 3)
            print(
                json.dumps(
                    {"train": size, "labeled": len(y), "head": name, **mean, "unseen_accuracy_over_clip": ratio}
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
