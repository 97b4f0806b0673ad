"""A real local Ray Serve with TWO generator replicas (the apps of `t2ialign serve` on tiny random models),
shared by this package's tests, plus UNet versions to promote: two good ones and one with a flipped byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from t2ialign.store import ObjectStore, model_prefix, upload_folder

from ..serving.conftest import ADMIN_KEY, RATER_KEYS, USER_KEY, Serving, run_serving
from ..serving.models import publish_unet_version

__all__ = ["ADMIN_KEY", "RATER_KEYS", "USER_KEY"]
GOOD_VERSIONS = ("unet-a", "unet-b")
# Rounds on tiny random models: a short training and a gate that every candidate passes (what it measures
# on random weights means nothing; tests/coordinator/test_full_round.py checks the path, not the figures).
# 2 x 0.25 CPU generators + 0.5 reward leave one CPU for a training worker.
TINY_ROUNDS = {
    "gate": {
        "prompts_per_category": 1,
        "images_per_prompt": 2,
        "num_inference_steps": 2,
        "min_alignment_gain": -1.0,
        "min_win_loss_ratio": 0.0,
        "max_fidelity_ratio": 1e9,
        "min_diversity_ratio": 0.0,
    },
    "trainer": {"reward_epochs": 1, "finetune_steps": 2, "finetune_recipe": "default"},  # tiny r_phi: no floor
    # people rounds in tests/coordinator/test_labeling_page.py: enough overlap and gold on a few tasks
    "labeling": {"overlap_share": 0.5, "gold_share": 0.25},
}
FLIPPED = "unet-flipped"


def publish_flipped(store: ObjectStore, generator_dir: Path, work: Path) -> None:
    """A checkpoint whose weights differ from its manifest by one byte."""
    publish_unet_version(store, generator_dir, "flip-src", seed=5, work=work)
    folder = work / "unet-flip-src"
    weights = folder / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    upload_folder(store, folder, model_prefix("unet", FLIPPED), require_manifest=False)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    root = tmp_path_factory.mktemp("coordinator")
    with run_serving(root, generator_replicas=2, generator_cpus=0.25, coordinator=TINY_ROUNDS) as s:
        for i, v in enumerate(GOOD_VERSIONS):
            publish_unet_version(s.store, root / "models" / "generator", v, seed=20 + i, work=root)
        publish_flipped(s.store, root / "models" / "generator", root)
        yield s
