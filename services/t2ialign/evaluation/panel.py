"""A simulated nine-rater panel, the human evaluation protocol of Lee et al. 2023 (§4.3).

For each prompt, raters compare a set of K images from model A (the fine-tuned model) with K images from
model B (the base model) and vote for the set that better matches the prompt. A prompt is *won* by A when
at least `win_share` of the raters (abstentions included) vote for A, *lost* when that many vote for B,
and a *tie* otherwise. The paper: 9 raters, 4 images a set, a 2/3 majority.

Each simulated rater knows how many images of each set the oracle accepts (the "true counts"). It abstains
when the true counts tie; otherwise it votes for the set with more matching images, except that with
probability `flip_rate` (about 10%, as the simulated feedback raters) it votes the other way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from t2ialign.evaluation.alignment import oracle_matches
from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.oracle import Oracle

OUTCOMES = ("win", "lose", "tie")


@dataclass(frozen=True)
class PanelConfig:
    raters: int = 9  # paper: nine raters per comparison
    flip_rate: float = 0.10  # chance a rater votes for the worse set (the feedback raters' flip rate)
    win_share: float = 2 / 3  # paper: a prompt is won with at least 2/3 of the votes
    seed: int = 0  # the panel's votes are reproducible

    def __post_init__(self) -> None:
        if self.raters < 1:
            raise ValueError(f"raters must be >= 1, got {self.raters}")
        if not 0 <= self.flip_rate < 0.5:
            raise ValueError(f"flip_rate must be in [0, 0.5), got {self.flip_rate}")
        if not 0.5 < self.win_share <= 1:
            raise ValueError(f"win_share must be in (0.5, 1], got {self.win_share}")


@dataclass
class PanelResult:
    """Per-prompt outcomes ("win" for set A, "lose", "tie") and the votes behind them."""

    outcomes: list[str]
    votes: list[tuple[int, int, int]]  # (for A, for B, abstained) per prompt
    true_counts: list[tuple[int, int]]  # oracle-accepted images in set A and set B, per prompt
    categories: list[str] = field(default_factory=list)

    def shares(self, mask: list[bool] | None = None) -> dict[str, float]:
        """{"win", "lose", "tie"} shares over all prompts (or those where `mask` is True)."""
        picked = [o for i, o in enumerate(self.outcomes) if mask is None or mask[i]]
        n = max(1, len(picked))
        return {o: round(picked.count(o) / n, 4) for o in OUTCOMES}

    def by_split(self, splits: list[str]) -> dict[str, dict[str, float]]:
        """Shares over all prompts ("all") and over each split's prompts; `splits` names each prompt's split."""
        return {"all": self.shares(), **{s: self.shares([x == s for x in splits]) for s in dict.fromkeys(splits)}}

    def by_category(self) -> dict[str, dict[str, float]]:
        return {c: self.shares([x == c for x in self.categories]) for c in dict.fromkeys(self.categories)}


def panel_outcome(count_a: int, count_b: int, rng: random.Random, cfg: PanelConfig) -> tuple[str, tuple[int, int, int]]:
    """One prompt: every rater votes from the true counts of matching images; returns outcome and votes."""
    if count_a == count_b:
        return "tie", (0, 0, cfg.raters)
    a_better = count_a > count_b
    for_a = sum((rng.random() >= cfg.flip_rate) == a_better for _ in range(cfg.raters))
    for_b = cfg.raters - for_a
    need = cfg.win_share * cfg.raters - 1e-9
    outcome = "win" if for_a >= need else "lose" if for_b >= need else "tie"
    return outcome, (for_a, for_b, 0)


def panel_from_matches(matches_a: np.ndarray, matches_b: np.ndarray, cfg: PanelConfig | None = None) -> PanelResult:
    """Panel over precomputed oracle verdicts: matches_a, matches_b are (P, K) booleans."""
    cfg = cfg or PanelConfig()
    if matches_a.shape[0] != matches_b.shape[0]:
        raise ValueError(f"set A has {matches_a.shape[0]} prompts but set B has {matches_b.shape[0]}")
    rng = random.Random(cfg.seed)
    outcomes, votes, counts = [], [], []
    for row_a, row_b in zip(matches_a, matches_b, strict=True):
        ca, cb = int(np.sum(row_a)), int(np.sum(row_b))
        outcome, v = panel_outcome(ca, cb, rng, cfg)
        outcomes.append(outcome)
        votes.append(v)
        counts.append((ca, cb))
    return PanelResult(outcomes, votes, counts)


def run_panel(
    images_a: np.ndarray,
    images_b: np.ndarray,
    prompts: list[PromptSpec],
    cfg: PanelConfig | None = None,
    oracle: Oracle | None = None,
) -> PanelResult:
    """Compare (P, K, H, W, 3) image sets A and B prompt by prompt with the simulated panel."""
    if images_a.shape[:2] != images_b.shape[:2]:
        raise ValueError(
            f"sets must have the same (prompts, images) shape, got {images_a.shape[:2]} and {images_b.shape[:2]}"
        )
    oracle = oracle or Oracle()
    result = panel_from_matches(
        oracle_matches(images_a, prompts, oracle), oracle_matches(images_b, prompts, oracle), cfg
    )
    result.categories = [p.category for p in prompts]
    return result
