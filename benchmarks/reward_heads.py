"""Reward heads against CLIP score on unseen prompts, by the number of rated images (docs/REPRODUCTION.md,
"The reward model: how many labels, and L_pc"). Lee et al. 2023 §4.2: r_phi predicts human judgments better than CLIP
score, and L_pc helps on unseen prompts.

1. Training sets: the rated sample pools of `training.sample_pools` (shipped base, simulated raters' labels,
   skips dropped), cached in runs/finetune_arms/ and added one after another ("s0", then "s0,s1", ...).
2. Test pool: 64 evaluation prompts (8 per split and category, seed 4321) x 8 images at 10 sampler steps,
   judged by the oracle; the unseen split names the held-out object. Cached as runs/finetune_arms/test.npz.
   Its own pool, not evaluation/protocol.py's: it measures reward heads, not a generator, on fixed images.
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

from t2ialign.evaluation.alignment import flat_eval_prompts, generate_for_prompts, oracle_matches
from t2ialign.evaluation.presets import NO_OBJECT_SWAPS
from t2ialign.evaluation.reward_accuracy import clip_scores, reward_accuracy
from t2ialign.models.clip import ClipBackbone
from t2ialign.paths import DEFAULT_CLIP
from t2ialign.toyworld.grammar import ATTRIBUTES
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model
from t2ialign.training.sample_pools import CACHE, base_pipe, sample_pool

HEADS = {
    "without_pc": {"pc_weight": 0.0},
    "pc_paper": {"perturb_attributes": list(ATTRIBUTES)},  # T 2, lambda 0.5, any attribute swapped
    "pc_no_object": {"perturb_attributes": list(NO_OBJECT_SWAPS)},
    "pc_no_object_T0.1": {"perturb_attributes": list(NO_OBJECT_SWAPS), "temperature": 0.1},
}


def held_out_pool() -> dict[str, np.ndarray]:
    path = CACHE / "test.npz"
    if not path.exists():
        prompts, splits = flat_eval_prompts(8, seed=4321)
        imgs = generate_for_prompts(base_pipe(), prompts, 8, 50_000, num_inference_steps=10, desc="test pool")
        CACHE.mkdir(parents=True, exist_ok=True)
        truth = oracle_matches(imgs, prompts).reshape(-1)
        np.savez_compressed(
            path,
            images=imgs.reshape(-1, *imgs.shape[2:]),
            truth=truth,
            prompts=np.array([p.text for p in prompts for _ in range(8)]),
            splits=np.array([s for s in splits for _ in range(8)]),
            cats=np.array([p.category for p in prompts for _ in range(8)]),
        )
    return dict(np.load(path))


def split_figures(
    clip_train: np.ndarray, labels: list[int], test: dict[str, np.ndarray], test_scores: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """{scorer: {unseen/seen accuracy and AUC}}: r_phi's threshold is 0.5, CLIP score's is fit on the labels."""
    acc = reward_accuracy(
        {"clip_score": clip_train},
        np.array(labels),
        test_scores,
        test["truth"],
        test["splits"],
        test["cats"],
        fixed_thresholds={k: 0.5 for k in test_scores if k != "clip_score"},
    )
    return {
        k: {f"{sp}_{m}": acc[sp][k][m] for sp in ("unseen", "seen") for m in ("accuracy", "auc")} for k in test_scores
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
