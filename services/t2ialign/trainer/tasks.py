"""What one training worker does, without Ray: read a job's inputs from the object store, train with the
library `t2ialign reproduce` uses (training/reward_train.py, training/finetune.py), publish the result.

    models/reward/<version>/  RewardModel.save: head, config, manifest (sha256 of every file, parent version,
                              job id, training config and metrics, normalization statistics)
    models/unet/<version>/    diffusers UNet folder (safetensors) with the same manifest fields

Versions are content-derived ("reward-<sha>", "unet-<sha>"), so a job that reproduces existing weights
exactly publishes nothing new and reports the existing version.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from t2ialign.common.manifest import MANIFEST, read_manifest, write_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline, load_unet
from t2ialign.serving import storage
from t2ialign.store import KeyExistsError, ObjectStore, model_prefix, upload_folder
from t2ialign.trainer.config import TrainerServiceConfig
from t2ialign.training.feedback import FeedbackSet, load_feedback
from t2ialign.training.finetune import FinetuneConfig, finetune_unet, save_unet
from t2ialign.training.hooks import LoopHooks
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model

log = logging.getLogger("t2ialign.trainer")


@dataclass
class Trained:
    """A job's trained model, before it is published."""

    kind: str  # reward | unet
    model: Any  # RewardModel | UNet2DConditionModel
    parent_version: str
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


def load_rounds(store: ObjectStore, round_ids: list[str]) -> FeedbackSet:
    """The images and labels of every named round, in order (training/feedback.py's storage format)."""
    return FeedbackSet.concat([load_feedback(store, r) for r in round_ids])


def _store_folder(store: ObjectStore, kind: str, version: str, work: Path) -> Path:
    return storage.resolve_folder(store, storage.STORE_SCHEME + model_prefix(kind, version), work)


def _split(fs: FeedbackSet, fraction: float, seed: int) -> tuple[FeedbackSet, FeedbackSet | None]:
    n_val = int(round(fraction * len(fs)))
    if n_val == 0 or n_val >= len(fs):
        return fs, None
    perm = np.random.default_rng(seed).permutation(len(fs))
    return fs.subset(perm[n_val:]), fs.subset(perm[:n_val])


def train_reward(
    spec: dict[str, Any], cfg: TrainerServiceConfig, store: ObjectStore, hooks: LoopHooks, work: Path, device: str
) -> Trained:
    """Eqs. 1-2 on the labels of spec["round_ids"], from a fresh head or spec["init_reward_version"].

    On CPU whatever the worker holds: the library trains a small head on frozen embeddings computed once."""
    backbone = ClipBackbone.load(storage.resolve_folder(store, cfg.clip, work))
    labeled = load_rounds(store, spec["round_ids"]).labeled()
    if len(labeled) == 0:
        raise ValueError(f"rounds {spec['round_ids']} hold no labels; collect feedback first")
    rcfg = RewardTrainConfig(**spec["config"])
    train, val = _split(labeled, spec["val_fraction"], rcfg.seed)
    init = None
    if spec["init_reward_version"]:
        init = RewardModel.load(_store_folder(store, "reward", spec["init_reward_version"], work), backbone)
    val_data = (val.images, val.prompts, [int(y) for y in val.labels]) if val is not None else None
    model = train_reward_model(
        backbone, train.images, train.prompts, train.labels, rcfg, val=val_data, init=init, hooks=hooks
    )
    config = {**spec, "config": dict(model.metrics.get("config", {}))}
    return Trained("reward", model, spec["init_reward_version"], config, dict(model.metrics))


def finetune(
    spec: dict[str, Any], cfg: TrainerServiceConfig, store: ObjectStore, hooks: LoopHooks, work: Path, device: str
) -> Trained:
    """Eq. 3 on the images of spec["round_ids"], weighted by spec["reward_version"], from the base UNet."""
    clip = ClipBackbone.load(storage.resolve_folder(store, cfg.clip, work))
    base_folder = storage.resolve_folder(store, cfg.model, work)
    pipe = ToyPipeline.load(base_folder, clip=clip, device=device)
    parent = spec["base_unet_version"]
    if parent:
        unet = load_unet(_store_folder(store, "unet", parent, work), device)
    else:  # no serving pointer: the base pipeline's own UNet
        unet = pipe.unet
        parent = storage.base_version(base_folder)  # the name the generator serves it under
    reward = RewardModel.load(_store_folder(store, "reward", spec["reward_version"], work), pipe.text_encoder)
    reward = reward.to(device)
    fcfg = FinetuneConfig(**spec["config"])
    metrics: dict[str, Any] = {}
    data = load_rounds(store, spec["round_ids"])
    new_unet = finetune_unet(pipe, reward, data, fcfg, unet=unet, metrics_out=metrics, progress=False, hooks=hooks)
    return Trained("unet", new_unet, parent, {**spec, "config": dataclasses.asdict(fcfg)}, metrics)


def publish(store: ObjectStore, trained: Trained, job_id: str, work: Path) -> str:
    """Save in diffusers format with a manifest (sha256, parent, job id, config, metrics), upload; the version."""
    folder = work / f"publish-{job_id}"
    if trained.kind == "reward":
        trained.model.save(folder, parent_version=trained.parent_version, job_id=job_id, config=trained.config)
        version = trained.model.version
    else:
        version = save_unet(trained.model, folder, trained.parent_version, trained.config["config"], trained.metrics)
        manifest = read_manifest(folder)
        manifest.pop("files")
        write_manifest(folder, **manifest, job_id=job_id, job_spec=trained.config)
    prefix = model_prefix(trained.kind, version)
    try:
        upload_folder(store, folder, prefix)
    except KeyExistsError:
        if not store.exists(prefix + MANIFEST):
            raise
        log.info("job %s reproduced %s exactly; the existing version stands", job_id, version)
    return version


def worker_device(use_gpu: bool) -> str:
    return "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
