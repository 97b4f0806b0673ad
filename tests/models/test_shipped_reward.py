"""The shipped reward model (weights/toy/reward): verified, loaded by default, a tampered file refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from t2ialign.common.manifest import ManifestError, read_manifest, verify_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import HEAD_FILE, RewardModel
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_REWARD

pytestmark = pytest.mark.skipif(
    not (DEFAULT_REWARD / "manifest.json").is_file(), reason="shipped reward weights not built yet"
)


def test_shipped_reward_verifies_and_carries_its_calibration():
    manifest = verify_manifest(DEFAULT_REWARD)
    assert set(manifest["files"]) == {HEAD_FILE, "reward_config.json"}
    assert manifest["recipe"] == "t2ialign pretrain reward" and manifest["version"].startswith("reward-")
    assert manifest["normalization"]["std"] > 0


def test_a_tampered_reward_head_is_refused(tmp_path: Path):
    folder = shutil.copytree(DEFAULT_REWARD, tmp_path / "reward")
    data = bytearray((folder / HEAD_FILE).read_bytes())
    data[-5] ^= 0xFF
    (folder / HEAD_FILE).write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="does not match"):
        RewardModel.load(folder, ClipBackbone.load(DEFAULT_CLIP))


def test_reward_service_serves_the_shipped_model_without_a_pointer_and_random_only_on_request(tmp_path: Path):
    from t2ialign.reward.config import UNTRAINED, RewardServiceConfig
    from t2ialign.reward.logic import RewardScorer

    fresh = RewardScorer.from_config(RewardServiceConfig(store_url=str(tmp_path / "store")))
    assert fresh.version == read_manifest(DEFAULT_REWARD)["version"]
    random_head = RewardScorer.from_config(RewardServiceConfig(store_url=str(tmp_path / "store"), model=UNTRAINED))
    assert random_head.version == UNTRAINED
