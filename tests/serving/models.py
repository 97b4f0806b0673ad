"""Tiny random models on disk for serving tests and the benchmark (diffusers-style: 8/16/16-channel UNet,
the tiny test CLIP, CPU). Building them takes about a second."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel

from t2ialign.common.manifest import write_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline, toy_unet_config, training_scheduler
from t2ialign.store import ObjectStore, model_prefix, set_pointer, upload_folder

TINY_CLIP = "t2ialign-tiny-test-clip"


def build_toy_models(root: Path, clip_name: str = TINY_CLIP, tiny_unet: bool = True) -> tuple[Path, Path]:
    """Write <root>/clip and <root>/generator (the layout of weights/toy); returns both folders."""
    torch.manual_seed(0)
    clip = ClipBackbone(clip_name).eval()
    clip.save(root / "clip")
    unet = UNet2DConditionModel(**toy_unet_config(clip.text_width, clip.image_size, tiny=tiny_unet))
    ToyPipeline(unet, clip, dict(training_scheduler().config)).save(root / "generator", version="toy-test-base")
    return root / "clip", root / "generator"


def publish_unet_version(store: ObjectStore, generator_dir: Path, version: str, seed: int, work: Path) -> str:
    """A new random UNet (same architecture) under models/unet/<version>/; returns the prefix."""
    base = UNet2DConditionModel.from_pretrained(str(generator_dir / "unet"), use_safetensors=True)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(base.config)
    folder = work / f"unet-{version}"
    unet.save_pretrained(str(folder), safe_serialization=True)
    write_manifest(folder, kind="unet", version=version, parent_version="toy-test-base")
    prefix = model_prefix("unet", version)
    upload_folder(store, folder, prefix)
    return prefix


def publish_reward_version(store: ObjectStore, clip_dir: Path, version: str, work: Path, promote: bool = True) -> str:
    """A random reward head with non-trivial normalization stats under models/reward/<version>/."""
    torch.manual_seed(1)
    model = RewardModel(ClipBackbone.load(clip_dir), version=version, stats={"mean": 0.1, "std": 0.5})
    model.save(work / f"reward-{version}")
    upload_folder(store, work / f"reward-{version}", model_prefix("reward", version))
    if promote:
        set_pointer(store, "reward-serving", version, reason="test")
    return version
