"""Best-of-n by reward at serve time (Lee et al. 2023, §4.4): generate n images per prompt with the base
model, score them with r_phi, and keep the `keep` highest-scoring ones. The paper used n = 16, keep = 4:
no fine-tuning, but n / keep times the generation cost. evaluation/protocol.py draws the n samples.
"""

from __future__ import annotations

import numpy as np
import torch

from t2ialign.models.reward import RewardModel
from t2ialign.toyworld.grammar import PromptSpec


def select_top(images: np.ndarray, scores: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """images (P, N, H, W, 3), scores (P, N) -> the `keep` best per prompt, best first, and their indices."""
    if images.shape[:2] != scores.shape:
        raise ValueError(f"scores {scores.shape} do not match images {images.shape[:2]}")
    if not 1 <= keep <= scores.shape[1]:
        raise ValueError(f"keep must be in 1..{scores.shape[1]}, got {keep}")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]  # (P, keep)
    return np.take_along_axis(images, order[:, :, None, None, None], axis=1), order


@torch.no_grad()
def score_sets(reward_model: RewardModel, images: np.ndarray, prompts: list[PromptSpec]) -> np.ndarray:
    """Raw r_phi for every image of (P, N, H, W, 3) sets -> (P, N)."""
    p, n = images.shape[:2]
    texts = [prompt.text for prompt in prompts for _ in range(n)]
    return reward_model.score(images.reshape(p * n, *images.shape[2:]), texts).cpu().numpy().reshape(p, n)
