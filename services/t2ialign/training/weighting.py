"""D_model of Eq. 3 and its loss weights: which samples fine-tuning sees, and how each one's reward becomes w.

Weightings are registered by name (`FinetuneConfig.weight_normalization`). The paper weighs by the reward
itself ("none"); the others keep weights non-negative with a mean of 1, so that beta keeps its meaning
however rare good samples are (docs/METHOD.md, "Deviations from the paper").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from t2ialign.models.reward import RewardModel
from t2ialign.training.feedback import FeedbackSet

if TYPE_CHECKING:
    from t2ialign.training.finetune import FinetuneConfig

LABEL_SOURCES = ("reward", "human")  # "reward": r_phi scores every sample (Eq. 3); "human": the label y
# where one exists, r_phi elsewhere

Weighting = Callable[[torch.Tensor, list[str], "FinetuneConfig"], torch.Tensor]


def _mean_one(w: torch.Tensor) -> torch.Tensor:
    return w / w.mean().clamp_min(1e-8)


def reward_as_weight(r: torch.Tensor, prompts: list[str], cfg: FinetuneConfig) -> torch.Tensor:
    """w = r, the paper's Eq. 3 (a regression output can be < 0, which pushes likelihood down)."""
    return r


def clipped_mean(r: torch.Tensor, prompts: list[str], cfg: FinetuneConfig) -> torch.Tensor:
    """clamp(r, 0, 1) / its mean: a probability of "good", at the scale of an unweighted loss."""
    return _mean_one(r.clamp(0.0, 1.0))


def exponentiated(r: torch.Tensor, prompts: list[str], cfg: FinetuneConfig) -> torch.Tensor:
    """exp((r - max r) / tau) / its mean: reward-weighted regression's exponentiated advantage."""
    return _mean_one(torch.exp((r - r.max()) / cfg.weight_temperature))


def prompt_top(r: torch.Tensor, prompts: list[str], cfg: FinetuneConfig) -> torch.Tensor:
    """1 for each prompt's top ceil(weight_top_fraction * n) of its n samples by r (if r >= weight_top_min),
    else 0, then / mean: r_phi as a ranker within a prompt (reward-ranked fine-tuning, Dong et al. 2023)."""
    if len(prompts) != len(r):
        raise ValueError(f"weight_normalization 'prompt_top' needs one prompt per reward, got {len(prompts)}")
    w = torch.zeros_like(r)
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(p, []).append(i)
    for idx in groups.values():
        ix = torch.tensor(idx)
        top = ix[torch.argsort(r[ix], descending=True, stable=True)[: math.ceil(cfg.weight_top_fraction * len(idx))]]
        w[top[r[top] >= cfg.weight_top_min] if cfg.weight_top_min is not None else top] = 1.0
    return _mean_one(w)


WEIGHTINGS: dict[str, Weighting] = {
    "none": reward_as_weight,
    "mean": clipped_mean,
    "exp": exponentiated,
    "prompt_top": prompt_top,
}


def check_weighting(name: str) -> None:
    if name not in WEIGHTINGS:
        raise ValueError(f"weight_normalization {name!r} not found; available: {', '.join(WEIGHTINGS)}")


def weigh(rewards: torch.Tensor, prompts: list[str], cfg: FinetuneConfig) -> torch.Tensor:
    """(M,) loss weights for the (M,) rewards of D_model, by `cfg.weight_normalization`."""
    check_weighting(cfg.weight_normalization)
    return WEIGHTINGS[cfg.weight_normalization](rewards.float(), prompts, cfg)


def model_pool(
    data: FeedbackSet, unlabeled: FeedbackSet | None, reward_model: RewardModel | None, cfg: FinetuneConfig
) -> tuple[np.ndarray, list[str], torch.Tensor, dict[str, float]]:
    """D_model: the feedback images (+ unlabeled ones if `cfg.use_unlabeled`), their prompts, their rewards
    per `cfg.label_source`, and reward statistics. r_phi scores the pool once (it is frozen)."""
    pool = FeedbackSet.concat([data, unlabeled]) if (cfg.use_unlabeled and unlabeled is not None) else data
    if len(pool) == 0:
        raise ValueError("no model samples to fine-tune on; collect feedback first")
    human = torch.tensor([float("nan") if y is None else float(y) for y in pool.labels])
    need_reward = cfg.label_source == "reward" or bool(torch.isnan(human).any())
    if need_reward and reward_model is None:
        raise ValueError(
            f"label_source={cfg.label_source!r} with unlabeled or skipped samples needs a reward_model to score them"
        )
    scores = reward_model.score(pool.images, pool.prompts).float() if need_reward else None
    if cfg.label_source == "reward":
        rewards = scores
    else:  # the labels where they exist, r_phi's scores for skipped and unlabeled samples
        rewards = human if scores is None else torch.where(torch.isnan(human), scores, human)
    stats = {
        "reward_mean": float(rewards.mean()),
        "reward_min": float(rewards.min()),
        "reward_max": float(rewards.max()),
    }
    return pool.images, pool.prompts, rewards, stats
