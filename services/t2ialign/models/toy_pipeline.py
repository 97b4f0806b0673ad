"""The toy text-to-image pipeline: a pixel-space diffusers UNet2DConditionModel conditioned on the frozen
toy-CLIP text tower's token states, with classifier-free guidance and fast diffusers samplers (Euler
ancestral, DPM-Solver++).

Saved layout (diffusers format, safetensors):
    <dir>/unet/{config.json, diffusion_pytorch_model.safetensors}
    <dir>/scheduler/scheduler_config.json     (the *training* noise schedule)
    <dir>/manifest.json                       (sha256 of every file)
The frozen toy CLIP is not copied in: it lives beside the pipeline (`<dir>/../clip` by default), since
the reward model shares it.
Samplers are always built `from_config(training schedule)`: a sampler whose schedule differs from
training makes pure noise without any error.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    UNet2DConditionModel,
)

from t2ialign.common.manifest import verify_manifest, write_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.precision import Precision

MAX_STEPS = 1000  # sanity bound on num_inference_steps
DEFAULT_STEPS = 20  # sampler steps of every generation that names none (bench_sampler_steps.py measures it)
# fast stochastic (default), fast deterministic, its stochastic (SDE) variant, deterministic reference
SAMPLERS: tuple[str, ...] = ("euler-a", "dpm++", "dpm++-sde", "ddim")


def toy_unet_config(cross_attention_dim: int, sample_size: int = 32, tiny: bool = False) -> dict:
    """UNet config: 32/64/64 channels, cross-attention at 16x16 and 8x8 only (about 1.7M parameters).

    `addition_embed_type="text"` also adds the attention-pooled token states to the time embedding, so
    global attributes (background, color, count) reach every resolution, the 32x32 blocks included.
    """
    channels = (8, 16, 16) if tiny else (32, 64, 64)
    return dict(
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        sample_size=sample_size,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=channels,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def training_scheduler(prediction_type: str = "v_prediction") -> DDPMScheduler:
    """The noise schedule the UNet is trained on: cosine, v-prediction.

    The cosine schedule ends at SNR ~ 0, where an epsilon model cannot say anything about x0, so the
    first sampling steps carry little of the prompt. The 5,600-step epsilon model drew backgrounds that
    ignored the prompt at every guidance scale tried (2, 4, 7). A v model predicts -x0 there.
    Saved pipelines record their prediction type; older epsilon pipelines still load and sample.
    """
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type)


def denoising_target(noise_scheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the UNet predicts under the schedule's `prediction_type`: eps, or v = alpha_t eps - sigma_t x0."""
    kind = noise_scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return noise_scheduler.get_velocity(x0, noise, t)
    raise ValueError(f"unsupported prediction_type {kind!r}")


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_model_space(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


class ToyPipeline:
    """Generate with `prompt`, `num_images`, `seed`, `num_inference_steps`, `guidance_scale`.

    The UNet is exposed as `.unet` for fine-tuning and hot-swapping; the text encoder stays frozen.
    `precision` (models/precision.py; default: the package's) sets the dtype and layout of every forward.
    """

    def __init__(
        self,
        unet: UNet2DConditionModel,
        text_encoder: ClipBackbone,
        noise_config: dict,
        precision: Precision | None = None,
    ):
        self.precision = precision or Precision.resolve(device=unet.device)
        self.unet = self.precision.layout_module(unet.eval().requires_grad_(False))
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.noise_config = dict(noise_config)

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def resolution(self) -> int:
        return int(self.unet.config.sample_size)

    @property
    def default_sampler(self) -> str:
        """Euler ancestral for v models; DPM-Solver++ with x0 clipping for older epsilon models (see below)."""
        return "euler-a" if self.noise_config.get("prediction_type") == "v_prediction" else "dpm++"

    def sampler(self, kind: str | None = None):
        """A sampler built from the training schedule's config: "euler-a" (fast, stochastic), "dpm++" (fast,
        deterministic), "dpm++-sde" (its SDE variant, stochastic) or "ddim" (deterministic reference); None means
        `default_sampler`.

        All start at t=T ("trailing" spacing: DDIM's default "leading" starts at t=951 from pure noise and
        washes colors out). For an epsilon model on the cosine schedule alpha_bar(T) is ~0, so the first x0
        estimate divides by ~0: without clipping x0 to [-1, 1] DPM-Solver++ explodes into saturated noise
        (measured here). A v model needs no clipping, and DDIM's clipping even harms it. Measured on the
        stage-2 v model (docs/BASE_MODELS.md; 6 images, mean |difference| per pixel against DDIM-100
        unclipped): DDIM-50 clipped 90/255, unclipped 1.1/255; DPM-Solver++ 20 steps unclipped 7.5/255,
        clipped 4.9/255.
        Why ancestral by default: the deterministic samplers follow the model's mean prediction, and for a
        prompt that names no color (one of six) that mean is a faint blob the background swallows. On the
        stage-2 model's background prompts (64 seen + 64 unseen images, 20 steps) the oracle found no object
        in 29 and 20 images with DPM-Solver++, 18 and 14 with Euler ancestral (alignment 45% -> 66% seen,
        61% -> 72% unseen).
        """
        kind = kind or self.default_sampler
        clip_x0 = self.noise_config.get("prediction_type", "epsilon") == "epsilon"
        if kind == "euler-a":
            return EulerAncestralDiscreteScheduler.from_config(self.noise_config, timestep_spacing="trailing")
        if kind in ("dpm++", "dpm++-sde"):
            algorithm = "dpmsolver++" if kind == "dpm++" else "sde-dpmsolver++"
            return DPMSolverMultistepScheduler.from_config(
                self.noise_config, algorithm_type=algorithm, thresholding=clip_x0, sample_max_value=1.0
            )
        if kind == "ddim":
            return DDIMScheduler.from_config(self.noise_config, timestep_spacing="trailing", clip_sample=clip_x0)
        raise ValueError(f"unknown sampler {kind!r}; available: {', '.join(SAMPLERS)}")

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Token states (B, L, W) in float32; the text tower runs in the pipeline's precision."""
        with self.precision.autocast():
            return self.text_encoder.token_states(prompts).float()

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        num_images: int = 1,
        seed: int = 0,
        num_inference_steps: int = DEFAULT_STEPS,
        guidance_scale: float = 4.0,
        sampler: str | None = None,
        unet: UNet2DConditionModel | None = None,
    ) -> np.ndarray:
        """(len(prompts) * num_images, H, W, 3) uint8 images; the same arguments give the same images (on the
        same machine and precision). A `unet` passed in is put in the pipeline's memory layout (in place)."""
        # 1. Check inputs.
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or any(not p.strip() for p in prompts):
            raise ValueError("prompt must be a non-empty string (or a list of them)")
        if not 1 <= num_images <= 4096:
            raise ValueError(f"num_images must be in 1..4096, got {num_images}")
        if not 1 <= num_inference_steps <= MAX_STEPS:
            raise ValueError(f"num_inference_steps must be in 1..{MAX_STEPS}, got {num_inference_steps}")
        if not np.isfinite(guidance_scale) or not 0 <= guidance_scale <= 50:
            raise ValueError(f"guidance_scale must be a finite number in [0, 50], got {guidance_scale}")
        unet = self.precision.layout_module(unet or self.unet)
        # 2. Encode each prompt once; the empty prompt is the unconditional branch of classifier-free guidance.
        cond = self.encode_prompts(prompts).repeat_interleave(num_images, dim=0)
        uncond = self.encode_prompts([""]).expand_as(cond)
        # 3. Initial noise from the seed.
        gen = torch.Generator("cpu").manual_seed(int(seed))
        size = self.resolution
        x = torch.randn((len(cond), 3, size, size), generator=gen).to(self.device)
        scheduler = self.sampler(sampler)
        scheduler.set_timesteps(num_inference_steps)
        x = x * scheduler.init_noise_sigma
        # 4. Denoise with classifier-free guidance: eps = eps_u + w (eps_c - eps_u).
        use_cfg = guidance_scale != 1.0
        for t in scheduler.timesteps:
            model_in = self.precision.layout(scheduler.scale_model_input(torch.cat([x, x]) if use_cfg else x, t))
            states = torch.cat([uncond, cond]) if use_cfg else cond
            with self.precision.autocast():
                eps = unet(model_in, t, encoder_hidden_states=states).sample.float()
            if use_cfg:
                eps_u, eps_c = eps.chunk(2)
                eps = eps_u + guidance_scale * (eps_c - eps_u)
            x = scheduler.step(eps, t, x, generator=gen).prev_sample  # ancestral noise comes from the seed too
        return to_uint8(x)

    # Checkpoint I/O.
    def with_unet(self, unet: UNet2DConditionModel) -> ToyPipeline:
        """A sibling pipeline with another UNet, sharing the text encoder, schedule and precision."""
        return ToyPipeline(unet, self.text_encoder, self.noise_config, self.precision)

    def save(self, folder: str | Path, unet: UNet2DConditionModel | None = None, **metadata: object) -> None:
        folder = Path(folder)
        (unet or self.unet).save_pretrained(folder / "unet", safe_serialization=True)
        (folder / "scheduler").mkdir(parents=True, exist_ok=True)
        (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(self.noise_config, indent=2))
        write_manifest(folder, kind="toy-generator", text_encoder=self.text_encoder.model_name, **metadata)

    @classmethod
    def load(
        cls,
        folder: str | Path,
        clip: ClipBackbone | str | Path | None = None,
        device: str = "cpu",
        dtype: str | None = None,
    ) -> ToyPipeline:
        """Load a saved pipeline; `clip` is a loaded backbone or its folder (default: `<folder>/../clip`);
        `dtype` as in models/precision.py (None = the package default)."""
        folder = Path(folder)
        verify_manifest(folder)
        unet = load_unet(folder / "unet", device)
        noise_config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
        if not isinstance(clip, ClipBackbone):
            clip = ClipBackbone.load(Path(clip) if clip else folder.parent / "clip")
        return cls(unet, clip.to(device), noise_config, Precision.resolve(dtype, device))


UNET_WEIGHTS = "diffusion_pytorch_model.safetensors"  # diffusers' weights file in a UNet folder


def load_unet(folder: str | Path, device: str = "cpu") -> UNet2DConditionModel:
    """A diffusers UNet from safetensors only (use_safetensors=True never falls back to pickles)."""
    unet = UNet2DConditionModel.from_pretrained(str(folder), use_safetensors=True)
    return unet.to(device).eval().requires_grad_(False)
