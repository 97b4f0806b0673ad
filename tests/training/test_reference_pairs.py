"""Reference pairs (training/reference_pairs.py): a clean render and a one-attribute mismatch per pair, both
against the same prompt, labeled by the simulated raters; seen objects only; reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from t2ialign.toyworld.grammar import SEEN_OBJECTS, parse_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.training.reference_pairs import reference_pairs
from t2ialign.training.rounds import round_prompts


def test_pairs_contrast_a_matching_render_with_a_mismatch_of_the_same_prompt():
    images, prompts, labels = reference_pairs(round_prompts(2, seed=0), 40, seed=3)
    assert images.shape == (80, 32, 32, 3) and images.dtype == np.uint8 and len(prompts) == len(labels) == 80
    assert prompts[0::2] == prompts[1::2]  # both images of a pair are scored against z
    assert {parse_prompt(p).object for p in prompts} <= set(SEEN_OBJECTS)
    truth = Oracle().judge_batch(images, prompts)
    assert truth[0::2].mean() == 1.0 and truth[1::2].mean() <= 0.05  # an unlucky swap may still match (a bg hidden)
    rated = [(y, t) for y, t in zip(labels, truth, strict=True) if y is not None]
    assert 0.75 <= np.mean([y == t for y, t in rated]) < 1.0  # the raters' 10% flips, not the oracle's verdicts
    again = reference_pairs(round_prompts(2, seed=0), 40, seed=3)
    assert np.array_equal(again[0], images) and again[2] == labels


def test_no_pairs_is_an_empty_set_and_bad_counts_are_refused():
    images, prompts, labels = reference_pairs(round_prompts(1, seed=0), 0)
    assert images.shape == (0, 32, 32, 3) and prompts == labels == []
    with pytest.raises(ValueError, match=">= 0"):
        reference_pairs(round_prompts(1, seed=0), -1)
    with pytest.raises(ValueError, match="at least one prompt"):
        reference_pairs([], 3)
