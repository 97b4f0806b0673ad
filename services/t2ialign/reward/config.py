"""Reward service settings (the args of `build_reward_app`, one block of deploy/serve_local.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_REWARD
from t2ialign.serving.storage import DEFAULT_STORE

UNTRAINED = "untrained"  # `model` value for a seeded random head: tests only, never a default


class RewardServiceConfig(BaseModel, extra="forbid"):
    store_url: str = DEFAULT_STORE  # object store: a path, file:///path or s3://bucket?endpoint=...
    clip: str = str(DEFAULT_CLIP)  # frozen CLIP backbone: local folder or store:<prefix>
    pointer: str = "reward-serving"  # serving pointer read at start; when it is unset, `model` is served
    model: str = str(DEFAULT_REWARD)  # r_phi without a pointer: folder or store:<prefix> (shipped weights/toy/reward)
    head_seed: int = 0  # seed of the head when model is "untrained" (a random head, for tests that ask for one)
    max_batch_size: int = Field(64, ge=1, le=1024)  # pairs per forward; larger amortises more, waits longer
    batch_wait_timeout_s: float = Field(0.005, ge=0, le=1)  # how long a batch waits to fill; adds tail latency
    device: str = "auto"  # "auto": cuda when this replica was given a GPU (Scaling.num_gpus), else cpu
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None  # CLIP forward, models/precision.py;
    # None = the package default ($T2IALIGN_DTYPE)
    torch_threads: int = Field(1, ge=1, le=64)  # intra-op threads per replica; replicas x threads <= cores
