"""Generator service settings (the args of `build_generator_app`, one block of deploy/serve_local.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from t2ialign.paths import DEFAULT_GENERATOR
from t2ialign.serving.storage import DEFAULT_STORE


class GeneratorServiceConfig(BaseModel, extra="forbid"):
    backend: Literal["toy", "sd"] = "toy"  # generators/backends.py registry
    model: str = str(DEFAULT_GENERATOR)  # base pipeline: local diffusers folder or store:<prefix>
    clip: str | None = None  # toy only: frozen text-encoder folder or store:<prefix> (default <model>/../clip)
    store_url: str = DEFAULT_STORE  # object store for images and UNet versions
    pointer: str = "unet-serving"  # read at start (a restarted replica serves what the store says)
    watch_pointer_s: float = Field(0.0, ge=0)  # poll the pointer and swap on change; 0 = only on LoadUnet
    smoke_test_on_load: bool = True  # run one 1-step image on a new UNet before swapping it in
    round: str = "serve"  # default images/<round>/ folder for requests that give none
    default_num_inference_steps: int = Field(20, ge=1, le=200)  # toy: 20 DPM++ steps; SD: 25-50
    default_guidance_scale: float = Field(4.0, ge=0, le=50)  # toy: 4; SD 1.5: 7.5
    max_images_per_forward: int = Field(16, ge=1, le=64)  # larger batches are split (bounds peak memory)
    reward_app: str = "reward"  # Serve application and deployment that score images
    reward_deployment: str = "RewardDeployment"
    device: str = "auto"  # "auto": cuda when this replica was given a GPU (Scaling.num_gpus), else cpu
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None  # models/precision.py; None = package
    # default ($T2IALIGN_DTYPE). "auto": bf16 on a CPU with BF16 instructions or a GPU with bf16, else fp32
    torch_threads: int = Field(1, ge=1, le=64)  # intra-op threads per replica; replicas x threads <= cores
