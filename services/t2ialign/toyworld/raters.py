"""Simulated human raters: the oracle plus the flaws of real raters (docs/METHOD.md, step 1).

Raters see three images of one prompt at a time (as in the paper) and mark each good (1) or bad (0).
About 10% of labels are flipped and 5% are skipped (None), seeded for reproducibility.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.oracle import Oracle


@dataclass(frozen=True)
class RaterConfig:
    flip_rate: float = 0.10  # chance a rater marks the wrong label (paper: raters disagree often)
    skip_rate: float = 0.05  # chance a rater skips an image (paper: 5% skipped)
    group_size: int = 3  # images shown at once (paper: three)


class SimulatedRaters:
    """Labels images like a pool of imperfect people. Same seed, same labels."""

    def __init__(self, config: RaterConfig | None = None, seed: int = 0, oracle: Oracle | None = None):
        self.config = config or RaterConfig()
        if not (0 <= self.config.flip_rate < 0.5 and 0 <= self.config.skip_rate < 1):
            raise ValueError(f"flip_rate must be in [0, 0.5) and skip_rate in [0, 1), got {self.config}")
        self.oracle = oracle or Oracle()
        self._rng = random.Random(seed)

    def rate(self, images: np.ndarray, prompts: list[PromptSpec | str]) -> list[int | None]:
        """One label per image: 1 good, 0 bad, None skipped; rated in groups of `group_size`."""
        labels: list[int | None] = []
        g = self.config.group_size
        for start in range(0, len(images), g):
            for img, prompt in zip(images[start : start + g], prompts[start : start + g], strict=True):
                truth = int(self.oracle.judge(img, prompt).match)
                if self._rng.random() < self.config.skip_rate:
                    labels.append(None)
                elif self._rng.random() < self.config.flip_rate:
                    labels.append(1 - truth)
                else:
                    labels.append(truth)
        return labels
