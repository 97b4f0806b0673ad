"""Pre-training of the toy generator: the denoising loss on the corpus (on v = alpha_t eps - sigma_t x0 for
the v-prediction schedule, ||eps - eps_theta(x_t, t, z)||^2 for an epsilon one), conditioned on the frozen
toy CLIP's token states, with caption dropout for classifier-free guidance.

Recipe: `t2ialign pretrain generator`. Resumable checkpoints; the exported UNet is the EMA of the weights.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from tqdm import tqdm

from t2ialign.common.manifest import sha256_file
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.toy_pipeline import (
    UNET_WEIGHTS,
    ToyPipeline,
    denoising_target,
    load_unet,
    to_model_space,
    toy_unet_config,
    training_scheduler,
)
from t2ialign.toyworld.corpus import corpus_batch
from t2ialign.training.checkpoint import load_training_state, save_training_state


@dataclass
class GeneratorTrainConfig:
    steps: int = 20000  # total optimizer steps; the shipped run stopped by --max-minutes (see its manifest)
    batch_size: int = 32  # ~1.75 s/step on 2 CPU cores at 32x32 (measured)
    lr: float = 4e-4  # AdamW; small UNets train stably at this rate with warm-up and grad clipping
    warmup: int = 200
    final_lr_fraction: float = 0.1  # cosine decay from lr to this fraction of it at `steps`
    ema_decay: float = 0.999  # the exported weights are the EMA: smoother samples from a short run
    caption_dropout: float = 0.1  # share of empty captions, which teaches the unconditional branch (CFG)
    resolution: int = 32
    tiny: bool = False  # a tiny UNet for smoke tests
    seed: int = 0
    checkpoint_every: int = 200


def learning_rate(cfg: GeneratorTrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to cfg.final_lr_fraction * cfg.lr at cfg.steps."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    floor = cfg.final_lr_fraction
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def warm_start(unet: UNet2DConditionModel, init_from: str | Path) -> list[str]:
    """Load a saved UNet's weights into `unet`; returns the names of modules it did not have.

    A new pooled-text embedding (`add_embedding`) starts with a zero gain, so the warm-started UNet
    computes exactly what the saved one did and learns to use the new input from there.
    """
    missing, unexpected = unet.load_state_dict(load_unet(init_from).state_dict(), strict=False)
    if unexpected or any(not k.startswith("add_embedding.") for k in missing):
        raise ValueError(f"{init_from} is not an earlier version of this UNet: {unexpected or missing}")
    if missing:
        torch.nn.init.zeros_(unet.add_embedding.norm2.weight)
    return missing


class TextStateCache:
    """The text tower is frozen and captions repeat, so each caption is encoded once."""

    def __init__(self, clip: ClipBackbone):
        self.clip = clip
        self._cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, captions: list[str]) -> torch.Tensor:
        missing = sorted({c for c in captions if c not in self._cache})
        if missing:
            for cap, states in zip(missing, self.clip.token_states(missing), strict=True):
                self._cache[cap] = states
        return torch.stack([self._cache[c] for c in captions])  # (B, L, W)


def denoising_loss_per_sample(
    unet: UNet2DConditionModel,
    noise_scheduler,
    x0: torch.Tensor,
    states: torch.Tensor,
    generator=None,
    timesteps: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log p_theta(x|z) up to constants: ||eps - eps_theta(x_t, t, z)||^2 per sample, shape (B,).

    For a v-prediction schedule the same loss is taken on v (a per-timestep reweighting of the eps loss).
    `timesteps` (B,) fixes t per sample; by default t is uniform over the training schedule.
    `keep` (indices) computes only those samples, with the noise and t drawn for the whole batch: the share of
    one data-parallel rank, so that the ranks together compute exactly the one-process batch.
    """
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)  # a CPU generator serves any device
    if timesteps is None:
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator)
    t = timesteps.to(x0.device)
    if keep is not None:
        x0, states, noise, t = x0[keep], states[keep], noise[keep], t[keep]
    x_t = noise_scheduler.add_noise(x0, noise, t)
    pred = unet(x_t, t, encoder_hidden_states=states).sample
    target = denoising_target(noise_scheduler, x0, noise, t)
    return F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))


@torch.no_grad()
def ema_update(ema: Iterable[torch.Tensor], params: Iterable[torch.Tensor], decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * params, tensor by tensor."""
    for pe, pm in zip(ema, params, strict=True):
        pe.lerp_(pm, 1 - decay)


def train_generator(
    cfg: GeneratorTrainConfig,
    clip: ClipBackbone,
    out_dir: str | Path,
    resume: bool = False,
    max_minutes: float | None = None,
    init_from: str | Path | None = None,
) -> ToyPipeline:
    """Train the UNet on the corpus and export the pipeline (EMA UNet + scheduler + CLIP) to `out_dir`.

    `init_from` warm-starts weights and EMA from a saved UNet folder (e.g. the shipped one), so training
    can continue in a later session without the uncommitted optimizer checkpoint.
    """
    out_dir = Path(out_dir)
    ckpt = out_dir.with_name(out_dir.name + "-checkpoint")
    torch.manual_seed(cfg.seed)
    clip = clip.eval().requires_grad_(False)
    noise_scheduler = training_scheduler()
    unet = UNet2DConditionModel(**toy_unet_config(clip.text_width, cfg.resolution, tiny=cfg.tiny)).train()
    warm = {}
    if init_from is not None:  # hashed now: the export below may overwrite the very file (--init-from the output)
        warm = {"init_from": str(init_from), "init_sha256": sha256_file(Path(init_from) / UNET_WEIGHTS)}
        warm_start(unet, init_from)
    ema = copy.deepcopy(unet).requires_grad_(False)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.01)
    config = dataclasses.asdict(cfg)
    start = load_training_state(ckpt, config, unet, opt, ema) if resume and ckpt.exists() else 0
    rng = random.Random(cfg.seed * 1_000_003 + start)
    texts = TextStateCache(clip)
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), desc="pretrain generator", initial=start, total=cfg.steps)
    step = start
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        images, captions, _ = corpus_batch(rng, cfg.batch_size, size=cfg.resolution)
        captions = ["" if rng.random() < cfg.caption_dropout else c for c in captions]
        loss = denoising_loss_per_sample(unet, noise_scheduler, to_model_space(images), texts(captions)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema_update(ema.parameters(), unet.parameters(), min(cfg.ema_decay, (1 + step) / (10 + step)))
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{opt.param_groups[0]['lr']:.1e}")
        if (step + 1) % cfg.checkpoint_every == 0:
            save_training_state(ckpt, step + 1, config, unet, opt, ema)
        if max_minutes is not None and time.time() - t0 > max_minutes * 60:
            break
    step += 1
    save_training_state(ckpt, step, config, unet, opt, ema)
    pipe = ToyPipeline(ema, clip, dict(noise_scheduler.config))
    pipe.save(out_dir, recipe="t2ialign pretrain generator", steps=step, config=config, **warm)
    return pipe
