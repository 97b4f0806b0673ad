"""Stable Diffusion backend: a diffusers `StableDiffusionPipeline` behind the same call as the toy pipeline,
`(prompt, num_images, seed, num_inference_steps, guidance_scale) -> (N, H, W, 3) uint8`.

Rombach et al. 2022 (latent diffusion); Lee et al. 2023 fine-tune its UNet, so the UNet is exposed as
`.unet` and `with_unet()` builds a pipeline that shares every other component (for hot-swapping).
Weights load from a local diffusers folder, safetensors only, never from a hub. `tiny_stable_diffusion()`
builds random tiny components the way diffusers' own tests do, with a `CLIPTokenizer` made offline from
open_clip's shipped BPE vocabulary, so every code path runs on a CPU without downloads.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

from t2ialign.common.manifest import MANIFEST, verify_manifest, write_manifest
from t2ialign.models.precision import Precision

MAX_STEPS = 1000  # sanity bound on num_inference_steps


def write_clip_tokenizer_files(folder: str | Path) -> Path:
    """Write vocab.json + merges.txt for `CLIPTokenizer` from open_clip's BPE file (OpenAI CLIP's vocabulary).

    Same construction as open_clip's SimpleTokenizer: 256 byte symbols, the same with `</w>`, one token per
    merge, then the two special tokens (49408 in all).
    """
    from open_clip.tokenizer import bytes_to_unicode, default_bpe

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(default_bpe()) as f:
        merges = f.read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder


def offline_clip_tokenizer(folder: str | Path, model_max_length: int = 77):
    """A `CLIPTokenizer` built from open_clip's shipped vocabulary (no download)."""
    from transformers import CLIPTokenizer

    folder = write_clip_tokenizer_files(folder)
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=model_max_length)


class StableDiffusionBackend:
    """Generate with `prompt`, `num_images`, `seed`, `num_inference_steps`, `guidance_scale` (diffusers names)."""

    def __init__(self, pipe: StableDiffusionPipeline, precision: Precision | None = None):
        """`precision` (models/precision.py; default: the package's) is the autocast dtype and UNet layout."""
        pipe.set_progress_bar_config(disable=True)
        self.precision = precision or Precision.resolve(device=pipe.device)
        self.precision.layout_module(pipe.unet.eval().requires_grad_(False))
        self.pipe = pipe

    @property
    def unet(self) -> UNet2DConditionModel:
        return self.pipe.unet

    @property
    def resolution(self) -> int:
        return int(self.pipe.unet.config.sample_size) * int(self.pipe.vae_scale_factor)

    def with_unet(self, unet: UNet2DConditionModel) -> StableDiffusionBackend:
        """A new backend sharing every component but the UNet (cheap: no weights are copied)."""
        pipe = StableDiffusionPipeline(**{**self.pipe.components, "unet": unet})
        return StableDiffusionBackend(pipe, self.precision)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        num_images: int = 1,
        seed: int = 0,
        num_inference_steps: int = 20,
        guidance_scale: float = 7.5,
    ) -> np.ndarray:
        """(num_images, H, W, 3) uint8; the same arguments give the same images."""
        # 1. Check inputs.
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("prompt must be a non-empty string")
        if not 1 <= num_images <= 4096:
            raise ValueError(f"num_images must be in 1..4096, got {num_images}")
        if not 1 <= num_inference_steps <= MAX_STEPS:
            raise ValueError(f"num_inference_steps must be in 1..{MAX_STEPS}, got {num_inference_steps}")
        if not np.isfinite(guidance_scale) or not 0 <= guidance_scale <= 50:
            raise ValueError(f"guidance_scale must be a finite number in [0, 50], got {guidance_scale}")
        # 2. Seeded CPU generator, so the noise (and the images) do not depend on the device.
        gen = torch.Generator("cpu").manual_seed(int(seed))
        with self.precision.autocast():
            out = self.pipe(
                prompt,
                num_images_per_prompt=num_images,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                generator=gen,
                output_type="np",
            ).images  # (N, H, W, 3) float in [0, 1]
        return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)

    # Checkpoint I/O (diffusers layout + sha256 manifest).
    def save(self, folder: str | Path, **metadata: object) -> None:
        self.pipe.save_pretrained(str(folder), safe_serialization=True)
        write_manifest(folder, kind="sd-generator", **metadata)

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", dtype: str | None = None) -> StableDiffusionBackend:
        """Load a local diffusers folder (safetensors only); verified first when it carries a manifest."""
        folder = Path(folder)
        if (folder / MANIFEST).is_file():
            verify_manifest(folder)
        pipe = StableDiffusionPipeline.from_pretrained(
            str(folder), use_safetensors=True, local_files_only=True, safety_checker=None, requires_safety_checker=False
        )
        return cls(pipe.to(device), Precision.resolve(dtype, device))


def tiny_stable_diffusion(tokenizer_dir: str | Path, seed: int = 0) -> StableDiffusionBackend:
    """Random tiny components (as in diffusers' pipeline tests): 64x64 images, a few MB of weights."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
    )
    tokenizer = offline_clip_tokenizer(tokenizer_dir)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=tokenizer.model_max_length,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return StableDiffusionBackend(pipe.to("cpu"))
