"""Which reward head to ship, on how many labels, and what its thresholds mean (issue 17; docs/REWARD_MODEL.md).

1. Training sets: prefixes of the rated pool of `t2ialign pretrain reward` (weights/toy/reward-checkpoint/pool/;
   prompts are shuffled, so a prefix mixes the categories), the simulated raters' labels, skips dropped.
2. Test pool: evaluation.reward_test_pool.held_out_pool(), 64 evaluation prompts (8 per split and category,
   seed 4321) x 8 images from the shipped base at 10 steps, judged by the oracle; the unseen split names the
   held-out object.
3. Per training set: CLIP score (threshold fit on the training labels) and each head (RewardTrainConfig
   overrides, mean over --seeds): unseen and seen accuracy at threshold 0.5 and AUC, and the share of clean
   one-attribute-mismatch pairs ranked right (evaluation.reward_accuracy.mismatch_pairs, seen and unseen objects).
   A head's "reference_pairs": N adds N rater-labeled reference pairs of the recipe's feedback prompts to its
   training set (training.reference_pairs; other render seeds than the test pairs').
4. --shipped: the shipped model's calibration on the test pool: for thresholds on `normalized`, the share of
   images kept and the share of kept images the oracle accepts (precision), per split.

Usage: .venv/bin/python benchmarks/reward_choice.py [--fractions 0.5,1] [--heads JSON] [--seeds 2] [--shipped]
(a head trains in ~10-60 s on 2 shared CPU cores; the test pool takes ~15-40 minutes to draw once, then is cached).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from t2ialign.evaluation.reward_accuracy import clip_scores, mismatch_pairs, pair_accuracy
from t2ialign.evaluation.reward_test_pool import held_out_pool, split_figures
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import RewardModel
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_REWARD
from t2ialign.toyworld.grammar import SEEN_OBJECTS, UNSEEN_OBJECTS
from t2ialign.training.reward_pretrain import RewardPretrainConfig, load_pool, pool_dir, recipe_reference_pairs
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model

THRESHOLDS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5)  # on `normalized`: standard deviations above the calibration mean
PAIRS = 120  # clean mismatch pairs per split
HEADS = {"without_pc": {"pc_weight": 0.0}, "pc_paper": {}}  # --heads default: the paper's head without and with L_pc


def pair_figures(score, pairs: dict[str, dict]) -> dict[str, float]:
    return {f"{split}_pairs": pair_accuracy(score, p)["accuracy"] for split, p in pairs.items()}


def calibration(model: RewardModel, test: dict[str, np.ndarray]) -> list[dict[str, object]]:
    """Per threshold on normalized r_phi: kept share and precision (oracle-accepted share of kept), per split."""
    norm = model.normalize(model.score(test["images"], [str(p) for p in test["prompts"]])).numpy()
    rows = []
    for t in (None, *THRESHOLDS):
        row: dict[str, object] = {"min_reward": t}
        for split in ("seen", "unseen"):
            m = test["splits"] == split
            kept = m & (norm >= t) if t is not None else m
            row[f"{split}_kept"] = round(float(kept.sum() / m.sum()), 3)
            row[f"{split}_precision"] = round(float(test["truth"][kept].mean()), 3) if kept.any() else None
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", default="0.5,1", help="shares of the pool (in pool order) to train on")
    ap.add_argument("--heads", default=json.dumps(HEADS), help="JSON {name: RewardTrainConfig overrides}")
    ap.add_argument("--seeds", type=int, default=2, help="heads trained per setting; figures are their mean")
    ap.add_argument("--shipped", action="store_true", help="also the shipped model's figures and threshold table")
    args = ap.parse_args()
    torch.set_num_threads(2)
    clip = ClipBackbone.load(DEFAULT_CLIP)
    test = held_out_pool()
    test_prompts = [str(p) for p in test["prompts"]]
    clip_test = clip_scores(clip, test["images"], test_prompts)
    pairs = {"seen": mismatch_pairs(PAIRS, SEEN_OBJECTS, seed=1), "unseen": mismatch_pairs(PAIRS, UNSEEN_OBJECTS, 2)}
    pool = load_pool(pool_dir(DEFAULT_REWARD))
    for fraction in (float(f) for f in args.fractions.split(",")):
        n = int(round(fraction * len(pool["labels"])))
        keep = pool["labels"][:n] >= 0
        images, labels = pool["images"][:n][keep], pool["labels"][:n][keep]
        prompts, y = [str(p) for p in pool["prompts"][:n][keep]], [int(v) for v in labels]
        clip_train = clip_scores(clip, images, prompts)
        base = split_figures(clip_train, y, test, {"clip_score": clip_test})["clip_score"]
        base |= pair_figures(lambda im, pr: clip_scores(clip, im, pr), pairs)
        print(json.dumps({"images": n, "labeled": len(y), "head": "clip_score", **base}), flush=True)
        for name, overrides in json.loads(args.heads).items():
            overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
            ref_images, ref_prompts, ref_labels = recipe_reference_pairs(
                RewardPretrainConfig(reference_pairs=int(overrides.pop("reference_pairs", 0)))
            )
            runs = []
            for s in range(args.seeds):
                model = train_reward_model(
                    clip,
                    np.concatenate([images, ref_images]),
                    prompts + ref_prompts,
                    y + ref_labels,
                    RewardTrainConfig(seed=s, **overrides),
                )
                figures = split_figures(clip_train, y, test, {"r": model.score(test["images"], test_prompts).numpy()})
                runs.append(figures["r"] | pair_figures(lambda im, pr, m=model: m.score(im, pr).numpy(), pairs))
            mean = {k: round(float(np.mean([r[k] for r in runs])), 3) for k in runs[0]}
            print(json.dumps({"images": n, "labeled": len(y), "head": name, **mean}), flush=True)
    if args.shipped:
        model = RewardModel.load(DEFAULT_REWARD, clip)
        figures = split_figures(clip_train, y, test, {"r": model.score(test["images"], test_prompts).numpy()})["r"]
        figures |= pair_figures(lambda im, pr: model.score(im, pr).numpy(), pairs)
        print(json.dumps({"shipped": model.version, **figures}), flush=True)
        for row in calibration(model, test):
            print(json.dumps({"calibration": model.version, **row}), flush=True)


if __name__ == "__main__":
    main()
