"""Tiny random models for training tests (diffusers-style: 8/16/16-channel UNet, tiny open_clip, CPU)."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel

from t2ialign.models.clip import ClipBackbone
from t2ialign.models.toy_pipeline import ToyPipeline, toy_unet_config, training_scheduler

TINY_CLIP = "t2ialign-tiny-test-clip"
# The 2-core machine is shared with training jobs; two intra-op threads there oversubscribe the cores
# and run some of these tests 30x slower. One thread is fast and deterministic.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_clip() -> ClipBackbone:
    torch.manual_seed(0)
    return ClipBackbone(TINY_CLIP).eval()


@pytest.fixture()
def tiny_pipe(tiny_clip: ClipBackbone) -> ToyPipeline:
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**toy_unet_config(tiny_clip.text_width, 32, tiny=True))
    return ToyPipeline(unet, tiny_clip, dict(training_scheduler().config))
