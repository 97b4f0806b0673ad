"""The fixed test pool that reward heads are measured on (docs/REWARD_MODEL.md, docs/REPRODUCTION.md).

64 evaluation prompts (8 per split and category, seed 4321) x 8 images of the shipped base at 10 sampler steps,
judged by the oracle; the unseen split names the held-out object. It is its own pool, not
evaluation/protocol.py's: it measures reward heads on fixed images, not a generator. Drawn once and cached as
runs/finetune_arms/test.npz; benchmarks/reward_heads.py, reward_choice.py and bench_filtering.py share it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2ialign.evaluation.alignment import flat_eval_prompts, generate_for_prompts, oracle_matches
from t2ialign.evaluation.reward_accuracy import reward_accuracy
from t2ialign.training.sample_pools import CACHE, base_pipe

TEST_POOL = CACHE / "test.npz"


def held_out_pool(path: Path = TEST_POOL) -> dict[str, np.ndarray]:
    """{images, truth, prompts, splits, cats}, one row per image; drawn on first use (a few minutes)."""
    if not path.exists():
        prompts, splits = flat_eval_prompts(8, seed=4321)
        imgs = generate_for_prompts(base_pipe(), prompts, 8, 50_000, num_inference_steps=10, desc="test pool")
        path.parent.mkdir(parents=True, exist_ok=True)
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
