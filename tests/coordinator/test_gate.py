"""The evaluation gate on tiny random models, without Ray: it runs the shared evaluation protocol on the
candidate and the serving UNet, reports flat metrics, and passes only when every threshold holds."""

from __future__ import annotations

import pytest

from t2ialign.coordinator.config import GateConfig
from t2ialign.coordinator.gate import checks, run_gate
from t2ialign.store import LocalStore

from ..serving.models import build_toy_models, publish_reward_version, publish_unet_version

TINY = {"prompts_per_category": 1, "images_per_prompt": 2, "num_inference_steps": 2}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    clip_dir, generator_dir = build_toy_models(root / "models")
    store = LocalStore(root / "store")
    publish_unet_version(store, generator_dir, "cand", seed=3, work=root)
    publish_reward_version(store, clip_dir, "rw", root, promote=False)
    return store, (generator_dir, clip_dir)


def test_gate_measures_candidate_against_serving_and_applies_thresholds(setup) -> None:
    store, folders = setup
    lenient = GateConfig(
        **TINY, min_alignment_gain=-1, min_win_loss_ratio=0, max_fidelity_ratio=1e9, min_diversity_ratio=0
    )
    result = run_gate(store, folders, None, "cand", lenient, reward_version="rw")
    m = result["metrics"]
    assert result["passed"] and result["serving"] == "" and result["candidate"] == "cand"
    assert m["alignment_gain"] == pytest.approx(m["alignment_candidate"] - m["alignment_serving"], abs=1e-4)
    assert m["panel_win"] + m["panel_lose"] + m["panel_tie"] == pytest.approx(1.0, abs=1e-3)
    assert {"fidelity_ratio", "diversity_ratio", "mean_reward_candidate", "alignment_seen_candidate"} <= set(m)
    assert set(result["alignment"]["candidate"]) == {"seen", "unseen"}
    strict = GateConfig(**TINY, min_alignment_gain=1.01)  # more than 100 points: never holds
    refused = run_gate(store, folders, None, "cand", strict)
    assert (
        not refused["passed"]
        and "alignment_gain" in refused["reason"]
        and "mean_reward_candidate" not in refused["metrics"]
    )


def test_each_threshold_decides() -> None:
    m = {"alignment_gain": 0.08, "panel_win": 0.4, "panel_lose": 0.2, "fidelity_ratio": 1.2, "diversity_ratio": 0.85}
    assert all(checks(m, GateConfig(min_alignment_gain=0.08, min_win_loss_ratio=2.0)).values())
    held = checks(m | {"panel_lose": 0.21, "fidelity_ratio": 1.21}, GateConfig(min_win_loss_ratio=2.0))
    assert held == {"alignment_gain": True, "panel": False, "fidelity": False, "diversity": True}
