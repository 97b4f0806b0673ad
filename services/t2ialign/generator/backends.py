"""Generator backends behind one interface, registered by name, lazy factories (docs/ARCHITECTURE.md, "Conventions").

Every backend takes the diffusers argument names, returns (N, H, W, 3) uint8, exposes `.unet`, and builds a
sibling with another UNet via `with_unet` (sharing every other component) for hot-swapping.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from diffusers import UNet2DConditionModel

from t2ialign.common.manifest import verify_manifest


class GeneratorBackend(Protocol):
    @property
    def unet(self) -> UNet2DConditionModel: ...

    @property
    def resolution(self) -> int: ...

    def with_unet(self, unet: UNet2DConditionModel) -> GeneratorBackend: ...

    def __call__(
        self, prompt: str, num_images: int, seed: int, num_inference_steps: int, guidance_scale: float
    ) -> np.ndarray: ...


class ToyBackend:
    """The toy pipeline (pixel-space UNet conditioned on the toy CLIP) as a backend."""

    def __init__(self, pipe):  # a t2ialign.models.toy_pipeline.ToyPipeline
        self.pipe = pipe

    @property
    def unet(self) -> UNet2DConditionModel:
        return self.pipe.unet

    @property
    def resolution(self) -> int:
        return self.pipe.resolution

    def with_unet(self, unet: UNet2DConditionModel) -> ToyBackend:
        return ToyBackend(self.pipe.with_unet(unet))

    def __call__(
        self, prompt: str, num_images: int, seed: int, num_inference_steps: int, guidance_scale: float
    ) -> np.ndarray:
        return self.pipe(
            prompt,
            num_images=num_images,
            seed=seed,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
        )


def _load_toy(folder: Path, clip: Path | None, device: str, dtype: str | None) -> GeneratorBackend:
    from t2ialign.models.toy_pipeline import ToyPipeline

    return ToyBackend(ToyPipeline.load(folder, clip=clip, device=device, dtype=dtype))


def _load_sd(folder: Path, clip: Path | None, device: str, dtype: str | None) -> GeneratorBackend:
    from t2ialign.models.sd_pipeline import StableDiffusionBackend

    if clip is not None:
        raise ValueError("the sd backend carries its own text encoder; leave `clip` unset")
    return StableDiffusionBackend.load(folder, device=device, dtype=dtype)


Loader = Callable[[Path, Path | None, str, str | None], GeneratorBackend]
BACKENDS: dict[str, Loader] = {"toy": _load_toy, "sd": _load_sd}


def load_backend(
    name: str, folder: Path, clip: Path | None = None, device: str = "cpu", dtype: str | None = None
) -> GeneratorBackend:
    """`dtype` as in models/precision.py (None = the package default)."""
    if name not in BACKENDS:
        raise ValueError(f"generator backend {name!r} not found; available: {', '.join(BACKENDS)}")
    return BACKENDS[name](folder, clip, device, dtype)


def load_unet_checkpoint(folder: Path) -> UNet2DConditionModel:
    """A UNet version folder (models/unet/<version>/): verify its manifest, then load safetensors only.

    Accepts the UNet at the folder root or in `unet/` (a whole saved pipeline).
    """
    from t2ialign.models.toy_pipeline import load_unet

    verify_manifest(folder)
    unet_dir = folder / "unet" if (folder / "unet" / "config.json").is_file() else folder
    if not (unet_dir / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no diffusers UNet (config.json at its root or in unet/)")
    return load_unet(unet_dir)


def check_compatible(old: UNet2DConditionModel, new: UNet2DConditionModel) -> None:
    """Refuse a UNet that cannot run in this pipeline (different latent shape or text conditioning)."""
    for field in ("in_channels", "out_channels", "sample_size", "cross_attention_dim"):
        a, b = old.config.get(field), new.config.get(field)
        if a != b:
            raise ValueError(f"the new UNet has {field}={b} but the pipeline needs {a}; wrong base model")
