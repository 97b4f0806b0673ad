"""The evaluation protocol: every model measured on the same prompts and seeds, with every metric."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from t2ialign.evaluation.presets import PRESETS, preset_protocol
from t2ialign.evaluation.protocol import BEST_OF, EvalProtocol, count_alignment, evaluate
from t2ialign.models.reward import RewardModel
from tests.training.conftest import tiny_clip, tiny_pipe  # noqa: F401  (fixtures)

TINY = EvalProtocol(prompts_per_category=1, images_per_prompt=2, best_of=3, num_inference_steps=2)


def test_same_weights_and_seeds_give_the_same_figures(tiny_pipe) -> None:  # noqa: F811
    reward = RewardModel(tiny_pipe.text_encoder)  # an untrained head ranks and scores all the same
    pairs = [("again", "base"), (BEST_OF, "base")]
    ev = evaluate(tiny_pipe, TINY, {"base": None, "again": tiny_pipe.unet}, pairs, ranker=reward, reward=reward)
    assert list(ev.models) == ["base", "again", BEST_OF, "clean_renders"]
    assert len(ev.prompts) == 8 and ev.splits.count("seen") == ev.splits.count("unseen") == 4
    assert np.array_equal(ev.images["base"], ev.images["again"]) and ev.models["again"] == ev.models["base"]
    assert set(ev.models["base"]) == {"alignment", "alignment_overall", "mean_reward", "fidelity", "diversity"}
    assert set(ev.models["base"]["alignment"]) == {"seen", "unseen"}
    assert ev.panels["again_vs_base"]["all"]["tie"] == 1.0  # equal sets tie on every prompt
    assert set(ev.panels[f"{BEST_OF}_vs_base"]) >= {"all", "seen", "unseen", "by_category"}
    assert ev.pool.shape[:2] == (8, 3) and ev.images[BEST_OF].shape[:2] == (8, 2)


def test_the_seed_moves_prompts_and_images(tiny_pipe) -> None:  # noqa: F811
    other = dataclasses.replace(TINY, seed=1)
    assert [p.text for p in TINY.prompts()[0]] != [p.text for p in other.prompts()[0]]
    a = evaluate(tiny_pipe, TINY, {"base": None})
    assert "mean_reward" not in a.models["base"] and a.pool is None and a.panels == {}
    counts = count_alignment(tiny_pipe, TINY, images_per_prompt=1)
    assert set(counts["seen_counts"]) == {1, 2, 3, 4} and 0.0 <= counts["unseen_counts"] <= 1.0


def test_protocol_checks_its_sizes_and_presets_set_their_seed() -> None:
    with pytest.raises(ValueError, match=r"best_of \(2\) must be >= images_per_prompt \(4\)"):
        EvalProtocol(best_of=2)
    with pytest.raises(ValueError, match=">= 1"):
        EvalProtocol(prompts_per_category=0)
    assert all(make(seed=5).evaluation.seed == 5 for make in PRESETS.values())
    assert preset_protocol("rounds", 1, 8) == dataclasses.replace(
        PRESETS["rounds"](seed=1).evaluation, prompts_per_category=8
    )
    with pytest.raises(ValueError, match="available: full, quick"):
        preset_protocol("fast")
