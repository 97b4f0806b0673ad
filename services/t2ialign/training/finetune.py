"""Step 3 of Lee et al. 2023 (§3.3, docs/METHOD.md): reward-weighted fine-tuning of the generator's UNet.

    Eq. 3  L(theta) = E_{(x,z)~D_model}[ -r_phi(x, z) log p_theta(x|z) ] + beta * E_{(x,z)~D_pre}[ -log p_theta(x|z) ]

For a diffusion model -log p_theta(x|z) is the denoising loss ||eps - eps_theta(x_t, t, z)||^2. D_model is the
rated samples plus (optionally) unlabeled samples scored by r_phi; D_pre is the pre-training corpus, which
fills `pretrain_fraction` of every batch (paper: half). The reward is a weight, never a filter. Only the UNet
trains (all of it, or LoRA adapters on its attention projections, merged for export); the text encoder is frozen.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from tqdm import tqdm

from t2ialign.common.manifest import sha256_file, write_manifest
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import UNET_WEIGHTS, ToyPipeline, to_model_space
from t2ialign.toyworld.corpus import corpus_batch
from t2ialign.training.checkpoint import LoopState, restore_loop_state, save_loop_state
from t2ialign.training.feedback import FeedbackSet
from t2ialign.training.generator_pretrain import TextStateCache, denoising_loss_per_sample, ema_update
from t2ialign.training.hooks import LoopHooks, StepInfo
from t2ialign.training.weighting import LABEL_SOURCES, WEIGHTINGS, check_weighting, model_pool, weigh

MODES = ("full", "lora")
SAMPLINGS = ("uniform", "weighted")
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")  # attention projections (self- and cross-attention)


@dataclass
class FinetuneConfig:
    steps: int = 600  # optimizer steps (paper: 10,000 at batch 512; the toy world needs far fewer)
    lr: float = 1e-4  # AdamW peak rate after warm-up; 1e-4 is the usual diffusion fine-tuning rate (full mode)
    batch_size: int = 32  # model samples + corpus samples per step
    pretrain_fraction: float = 0.5  # share of each batch drawn from the corpus (D_pre); paper: half
    beta: float = 1.0  # weight of the pre-training term of Eq. 3 (not given); holds fidelity and diversity
    mode: str = "full"  # "full": every UNet weight; "lora": adapters on attention projections only (cheap to ship)
    lora_rank: int = 16  # LoRA rank (scale 1); the toy UNet's attention is 64 wide, so 16 is a quarter of full rank
    lora_lr_multiplier: float = 10.0  # LoRA starts at zero and needs a larger rate than full fine-tuning
    weight_normalization: str = "mean"  # how a reward becomes a weight: a name in WEIGHTINGS; the paper's is "none"
    weight_temperature: float = 0.2  # only for "exp": w = exp((r - max) / tau); 0.2 weighs r=0.9 55x r=0.1
    weight_top_fraction: float = 0.25  # only for "prompt_top": the share of each prompt's samples kept
    weight_top_min: float | None = None  # only for "prompt_top": keep a top sample only if its reward is at
    # least this, so a prompt with no good sample sends none
    use_unlabeled: bool = True  # add unlabeled model samples scored by r_phi (paper: 16K beside 23K labeled)
    label_source: str = "reward"  # "reward": r_phi weights every sample (Eq. 3); "human": y where a label exists
    # (r_phi elsewhere)
    sampling: str = "uniform"  # "uniform": batches drawn uniformly, loss weighted by w; "weighted": drawn with
    # probability w / sum(w), loss scaled by mean(w): the same expectation (Eq. 3), less variance per step
    warmup: int = 20  # linear warm-up steps; avoids a first large AdamW step on a converged model
    grad_clip: float = 1.0  # max gradient norm, as in pre-training
    ema_decay: float = 0.0  # >0: export an exponential moving average of the weights, started at the base
    # model's (the shipped base is itself an EMA; raw fine-tuned weights carry step noise). 0 = raw weights
    model_timestep_min: float = 0.0  # >0: the model term draws t from the top (1 - this) of the noise schedule
    # only, where the scene's layout is decided; the corpus term stays uniform. 0 = Eq. 3's uniform t (a
    # deviation from the paper, docs/METHOD.md)
    caption_dropout: float = 0.1  # empty captions in the corpus half, as in pre-training: keeps the CFG branch
    seed: int = 0  # batches, noise and timesteps

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is unknown; valid: {', '.join(MODES)}")
        check_weighting(self.weight_normalization)
        if self.label_source not in LABEL_SOURCES:
            raise ValueError(f"label_source {self.label_source!r} is unknown; valid: {', '.join(LABEL_SOURCES)}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling {self.sampling!r} is unknown; valid: {', '.join(SAMPLINGS)}")
        if not 0.0 <= self.pretrain_fraction < 1.0:
            raise ValueError(f"pretrain_fraction must be in [0, 1), got {self.pretrain_fraction}")
        if self.beta < 0 or self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("beta must be >= 0, steps and batch_size >= 1, and lr > 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.model_timestep_min < 1.0:
            raise ValueError(f"model_timestep_min must be in [0, 1), got {self.model_timestep_min}")
        if self.weight_temperature <= 0:
            raise ValueError(f"weight_temperature must be > 0, got {self.weight_temperature}")
        if not 0.0 < self.weight_top_fraction <= 1.0:
            raise ValueError(f"weight_top_fraction must be in (0, 1], got {self.weight_top_fraction}")
        if self.weight_top_min is not None and not math.isfinite(self.weight_top_min):
            raise ValueError(f"weight_top_min must be a finite number or None, got {self.weight_top_min}")

    @property
    def model_batch(self) -> int:
        """Model samples per step (at least one)."""
        return max(1, self.batch_size - self.pretrain_batch)

    @property
    def pretrain_batch(self) -> int:
        """Corpus samples per step."""
        return round(self.batch_size * self.pretrain_fraction)


def reward_weighted_loss(per_sample_loss: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """First term of Eq. 3 on a batch: mean_i(w_i * l_i), with l_i = -log p_theta(x_i|z_i). Both (B,)."""
    if per_sample_loss.shape != weights.shape:
        raise ValueError(f"per_sample_loss {tuple(per_sample_loss.shape)} and weights {tuple(weights.shape)} differ")
    return (weights.to(per_sample_loss) * per_sample_loss).mean()


def finetune_loss(
    unet: UNet2DConditionModel,
    noise_scheduler: Any,
    model_x0: torch.Tensor,
    model_states: torch.Tensor,
    weights: torch.Tensor,
    pre_x0: torch.Tensor | None,
    pre_states: torch.Tensor | None,
    beta: float,
    generator: torch.Generator | None = None,
    model_timestep_min: float = 0.0,
    shard: tuple[slice, slice] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 3 on one batch: mean(w * l_model) + beta * mean(l_pre). One UNet pass over both halves.

    model_x0: (Bm, 3, H, W) in [-1, 1]; model_states: (Bm, L, W); weights: (Bm,); pre_*: the corpus half or None.
    model_timestep_min > 0 draws the model half's t from [min * T, T) instead of [0, T).
    shard = (model slice, corpus slice): a data-parallel rank's equal share of each half (LoopHooks.shard); the
    noise and t are drawn for the whole batch, so the ranks' mean loss is the one-process loss.
    """
    bm = len(model_x0)
    keep = None
    if shard is not None:
        n_pre = 0 if pre_x0 is None else len(pre_x0)
        keep = torch.cat([torch.arange(bm)[shard[0]], bm + torch.arange(n_pre)[shard[1]]])
        weights = weights[shard[0]]
    x0, states = model_x0, model_states
    if pre_x0 is not None and len(pre_x0):
        x0, states = torch.cat([model_x0, pre_x0]), torch.cat([model_states, pre_states])
    timesteps = None
    if model_timestep_min > 0:
        n_t = noise_scheduler.config.num_train_timesteps
        timesteps = torch.cat(
            [
                torch.randint(int(model_timestep_min * n_t), n_t, (bm,), generator=generator),
                torch.randint(0, n_t, (len(x0) - bm,), generator=generator),
            ]
        )
    per_sample = denoising_loss_per_sample(unet, noise_scheduler, x0, states, generator, timesteps, keep)
    bm = len(weights)  # this rank's model samples (all of them without a shard)
    model_term = reward_weighted_loss(per_sample[:bm], weights)
    pre_term = per_sample[bm:].mean() if len(per_sample) > bm else torch.zeros((), device=per_sample.device)
    total = model_term + beta * pre_term
    parts = {"model": model_term.item(), "pretrain": pre_term.item(), "unweighted_model": per_sample[:bm].mean().item()}
    return total, parts


def add_lora(unet: UNet2DConditionModel, rank: int) -> list[torch.nn.Parameter]:
    """Freeze the UNet and add peft LoRA adapters on its attention projections; returns the trainable params."""
    from peft import LoraConfig

    unet.requires_grad_(False)
    unet.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=list(LORA_TARGETS))
    )
    params = [p for n, p in unet.named_parameters() if p.requires_grad]
    if not params or any("lora" not in n for n, p in unet.named_parameters() if p.requires_grad):
        raise RuntimeError("LoRA setup left non-LoRA parameters trainable (or none at all)")
    return params


def merge_lora(unet: UNet2DConditionModel) -> UNet2DConditionModel:
    """Fold the LoRA deltas into the base weights and remove the adapters: a plain UNet for export."""
    unet.fuse_lora()
    unet.unload_lora()
    return unet


def finetune_unet(
    pipe: ToyPipeline,
    reward_model: RewardModel | None,
    data: FeedbackSet,
    cfg: FinetuneConfig | None = None,
    unlabeled: FeedbackSet | None = None,
    unet: UNet2DConditionModel | None = None,
    metrics_out: dict[str, Any] | None = None,
    progress: bool = True,
    hooks: LoopHooks | None = None,
) -> UNet2DConditionModel:
    """Fine-tune a copy of `unet` (default pipe.unet) by Eq. 3 and return it (LoRA merged), frozen, in eval mode.

    `metrics_out`, if given, is filled with the loss history and weight statistics. `hooks` (training/hooks.py):
    data-parallel rank, DDP wrapper, resume and a per-step callback, for a runner such as the trainer service.
    """
    cfg = cfg or FinetuneConfig()
    hooks = hooks or LoopHooks()
    shard = (hooks.shard(cfg.model_batch), hooks.shard(cfg.pretrain_batch)) if hooks.world_size > 1 else None
    t0 = time.time()
    # 1. Check inputs, and score D_model once (r_phi and the text encoder are frozen).
    images, prompts, rewards, stats = model_pool(data, unlabeled, reward_model, cfg)
    weights = weigh(rewards, prompts, cfg)  # (M,)
    if cfg.weight_top_min is not None and float(weights.abs().sum()) == 0:
        raise ValueError(
            f"no model sample reaches weight_top_min={cfg.weight_top_min} (highest reward "
            f"{float(rewards.max()):.3f}): nothing to fine-tune on; lower weight_top_min or collect more samples"
        )
    if cfg.sampling == "weighted" and (bool((weights < 0).any()) or float(weights.sum()) <= 0):
        raise ValueError(
            "sampling='weighted' needs non-negative weights with a positive sum; use a non-negative "
            f"weight_normalization ({', '.join(n for n in WEIGHTINGS if n != 'none')}) or sampling='uniform'"
        )
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    gen = torch.Generator("cpu").manual_seed(cfg.seed)
    device = pipe.device
    texts = TextStateCache(pipe.text_encoder)
    model_x0 = to_model_space(images)  # (M, 3, H, W)
    size = pipe.resolution
    # 2. The trainable copy (in the pipeline's precision and layout): the whole UNet or LoRA adapters only.
    precision = pipe.precision
    unet = precision.layout_module(copy.deepcopy(unet or pipe.unet).to(device).train())
    attention = precision.training_attention(unet)
    if cfg.mode == "lora":
        params = add_lora(unet, cfg.lora_rank)
        lr = cfg.lr * cfg.lora_lr_multiplier
    else:
        params = list(unet.requires_grad_(True).parameters())
        lr = cfg.lr
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)  # no decay: do not shrink the base weights
    ema = [p.detach().clone() for p in params] if cfg.ema_decay else None
    noise_scheduler = DDPMScheduler.from_config(pipe.noise_config)  # the base model's own prediction type
    history: list[dict[str, float]] = []
    config = json.loads(json.dumps(dataclasses.asdict(cfg)))  # as a checkpoint stores it (tuples -> lists)
    state = LoopState(unet, opt, gen, rng, ema, history)
    start = restore_loop_state(hooks.resume_from, config, state) if hooks.resume_from else 0
    model = hooks.wrap(unet)
    # 3. Train: each batch is cfg.model_batch model samples (reward-weighted) + cfg.pretrain_batch corpus samples.
    # Every rank draws the same global batch; with a shard each computes its share (finetune_loss).
    bar = tqdm(range(start, cfg.steps), desc=f"finetune ({cfg.mode})", disable=not progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / max(1, cfg.warmup))
        if cfg.sampling == "weighted":  # importance sampling: E_uniform[w l] = mean(w) * E_{i ~ w}[l]
            idx = torch.multinomial(weights, cfg.model_batch, replacement=True, generator=gen)
            w = torch.full((cfg.model_batch,), float(weights.mean()))
        else:
            idx = torch.randint(0, len(model_x0), (cfg.model_batch,), generator=gen)
            w = weights[idx]
        pre_x0 = pre_states = None
        if cfg.pretrain_batch:
            pre_imgs, captions, _ = corpus_batch(rng, cfg.pretrain_batch, size=size)
            captions = ["" if rng.random() < cfg.caption_dropout else c for c in captions]
            pre_x0, pre_states = to_model_space(pre_imgs).to(device), texts(captions).to(device)
        with precision.autocast():  # forward and backward in the reduced dtype; weights and AdamW stay fp32
            loss, parts = finetune_loss(
                model,
                noise_scheduler,
                precision.layout(model_x0[idx].to(device)),
                texts([prompts[i] for i in idx.tolist()]).to(device),
                w.to(device),
                pre_x0 if pre_x0 is None else precision.layout(pre_x0),
                pre_states,
                cfg.beta,
                gen,
                cfg.model_timestep_min,
                shard,
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if ema is not None:
            ema_update(ema, params, cfg.ema_decay)
        history.append({"step": step, "loss": loss.item(), **parts})
        bar.set_postfix(loss=f"{loss.item():.4f}")

        def save(folder: Path, step: int = step + 1) -> None:
            save_loop_state(folder, step, config, state)

        if hooks.after_step(StepInfo(step + 1, cfg.steps, history[-1], save)):
            break
    # 4. Export: the EMA (if kept) into the trained parameters, merge LoRA, freeze.
    if ema is not None:
        with torch.no_grad():
            for p, e in zip(params, ema, strict=True):
                p.copy_(e)
    if cfg.mode == "lora":
        merge_lora(unet)
    unet.set_attn_processor(attention)
    unet = unet.eval().requires_grad_(False)
    if metrics_out is not None:
        tail = history[-min(50, len(history)) :]
        metrics_out.update(
            {
                "num_model_samples": len(model_x0),
                "num_labeled": sum(y is not None for y in data.labels),
                "weight_mean": float(weights.mean()),
                "weight_max": float(weights.max()),
                **stats,
                "final_loss": float(np.mean([h["loss"] for h in tail])),
                "final_pretrain_loss": float(np.mean([h["pretrain"] for h in tail])),
                "seconds": round(time.time() - t0, 1),
                "precision": precision.record(),
                "history": history,
            }
        )
    return unet


def save_unet(
    unet: UNet2DConditionModel,
    folder: str | Path,
    parent_version: str,
    config: FinetuneConfig | dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> str:
    """Save in diffusers format (safetensors) with a sha256 manifest; returns the new version id.

    The version is "unet-" + the first 12 hex digits of the weights' sha256, so equal weights get equal ids.
    """
    folder = Path(folder)
    unet.save_pretrained(folder, safe_serialization=True)
    weights = folder / UNET_WEIGHTS
    version = "unet-" + sha256_file(weights)[:12]
    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    metrics = {k: v for k, v in (metrics or {}).items() if k != "history"}  # the per-step history stays out
    write_manifest(folder, kind="unet", version=version, parent_version=parent_version, config=config, metrics=metrics)
    return version


def weights_digest(unet: torch.nn.Module) -> str:
    """sha256 of a module's parameters (tests and logs: did training change anything?)."""
    h = hashlib.sha256()
    for k, v in sorted(unet.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()
