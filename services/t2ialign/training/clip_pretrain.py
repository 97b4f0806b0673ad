"""Contrastive pre-training of the toy CLIP on the noisy-caption corpus (CLIP's InfoNCE loss).

Recipe: `t2ialign pretrain clip`. Resumable: a checkpoint is written every `checkpoint_every` steps and
`--resume` continues from it. The exported weights are what the generator and the reward model freeze.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from tqdm import tqdm

from t2ialign.models.clip import TOY_CLIP, ClipBackbone
from t2ialign.toyworld.corpus import corpus_batch
from t2ialign.training.checkpoint import load_training_state, save_training_state


@dataclass
class ClipTrainConfig:
    model_name: str = TOY_CLIP  # an open_clip config name (registered JSON)
    steps: int = 1000  # total optimizer steps (~13 min at batch 128 on 2 cores); --max-minutes may stop earlier
    batch_size: int = 128  # contrastive batch: more negatives help, but cost CPU time linearly
    lr: float = 1e-3  # peak learning rate (AdamW); tiny models tolerate a high rate
    warmup: int = 100  # linear warm-up steps, then cosine decay to 10%
    weight_decay: float = 0.1
    seed: int = 0
    checkpoint_every: int = 200


def lr_at(step: int, cfg: ClipTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_clip(
    cfg: ClipTrainConfig, out_dir: str | Path, resume: bool = False, max_minutes: float | None = None
) -> ClipBackbone:
    """Train and export the toy CLIP to `out_dir` (safetensors + config + manifest)."""
    out_dir = Path(out_dir)
    ckpt = out_dir.with_name(out_dir.name + "-checkpoint")
    torch.manual_seed(cfg.seed)
    clip = ClipBackbone(cfg.model_name).train()
    opt = torch.optim.AdamW(clip.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = open_clip.ClipLoss()
    start = load_training_state(ckpt, dataclasses.asdict(cfg), clip.model, opt) if resume and ckpt.exists() else 0
    rng = random.Random(cfg.seed * 1_000_003 + start)  # a resumed run continues with fresh data
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), desc="pretrain clip", initial=start, total=cfg.steps)
    step = start
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        images, captions, _ = corpus_batch(rng, cfg.batch_size, size=clip.image_size)
        img_f = clip.encode_images(images)
        txt_f = clip.encode_text(captions)
        loss = loss_fn(img_f, txt_f, clip.model.logit_scale.exp())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            clip.model.logit_scale.clamp_(0, math.log(100))
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if (step + 1) % cfg.checkpoint_every == 0:
            save_training_state(ckpt, step + 1, dataclasses.asdict(cfg), clip.model, opt)
        if max_minutes is not None and time.time() - t0 > max_minutes * 60:
            break
    step += 1
    save_training_state(ckpt, step, dataclasses.asdict(cfg), clip.model, opt)
    clip.eval()
    clip.save(out_dir, recipe="t2ialign pretrain clip", steps=step, config=dataclasses.asdict(cfg))
    return clip
