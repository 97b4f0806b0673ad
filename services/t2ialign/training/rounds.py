"""Rounds of the loop (docs/METHOD.md steps 1-3; docs/ARCHITECTURE.md): collect -> train reward -> fine-tune, repeated.

The paper ran one offline round. DDPO calls the method "one round of reward-weighted regression"; chaining
rounds, where the fine-tuned UNet generates the next round's samples, is the obvious extension.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffusers import UNet2DConditionModel

from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.toyworld.grammar import CATEGORIES, SEEN_OBJECTS, PromptSpec, sample_prompt
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import FeedbackSet, collect_feedback
from t2ialign.training.finetune import FinetuneConfig, finetune_unet, save_unet
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model


@dataclass
class RoundConfig:
    images_per_prompt: int = 8  # K rated samples per prompt (paper: 60 or 6)
    unlabeled_per_prompt: int = 8  # extra unlabeled samples per prompt, scored by r_phi (0 = none)
    num_inference_steps: int = 20  # sampler steps for the round's samples (the pipeline's default)
    guidance_scale: float = 4.0  # CFG scale for the round's samples (the pipeline's default)
    accumulate_feedback: bool = True  # train each round's reward model on every round's labels so far
    reward: RewardTrainConfig = field(default_factory=RewardTrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


@dataclass
class RoundResult:
    round_id: str
    feedback: FeedbackSet  # this round's rated samples (from the UNet the round started with)
    unlabeled: FeedbackSet | None  # this round's unlabeled samples
    reward_model: RewardModel
    unet: UNet2DConditionModel  # the fine-tuned UNet; it generates the next round's samples
    unet_version: str
    parent_version: str
    metrics: dict[str, Any]  # good rate, reward and fine-tuning summaries, timings, evaluation (if given)
    unet_dir: Path | None = None
    reward_dir: Path | None = None


def round_prompts(per_category: int, seed: int, max_objects: int = 4) -> list[PromptSpec]:
    """A round's prompts: every seen count prompt ("two squares", counts 1..max_objects), then `per_category`
    sampled seen-object prompts of each category. Counts are what the base model fails most (docs/REPRODUCTION.md,
    "Why"; docs/history/REPRODUCTION-LOG.md, "Why counts stay hard"), so every round has each of them."""
    rng = random.Random(seed)
    counts = [PromptSpec(o, count=c, category="count") for o in SEEN_OBJECTS for c in range(1, max_objects + 1)]
    return counts + [sample_prompt(rng, c, SEEN_OBJECTS, max_objects) for c in CATEGORIES for _ in range(per_category)]


def run_round(
    pipe: ToyPipeline,
    prompts: list[PromptSpec],
    raters: SimulatedRaters,
    round_id: str,
    cfg: RoundConfig | None = None,
    seed: int = 0,
    unet: UNet2DConditionModel | None = None,
    parent_version: str = "base",
    previous_feedback: list[FeedbackSet] | None = None,
    backbone: ClipBackbone | None = None,
    store: Any = None,
    out_dir: str | Path | None = None,
    evaluate: Callable[[ToyPipeline, UNet2DConditionModel], dict[str, Any]] | None = None,
    progress: bool = False,
) -> RoundResult:
    """One round: collect feedback with `unet` (default pipe.unet), train r_phi, fine-tune, save.

    backbone: the reward model's frozen CLIP (default: the pipeline's text encoder, as in the toy world).
    out_dir: writes <out_dir>/<round_id>/{unet,reward}; store: also feedback and models/unet/<version>/.
    evaluate(pipe, unet) -> dict, if given, is run on the fine-tuned UNet and recorded in the metrics.
    """
    cfg = cfg or RoundConfig()
    unet = unet or pipe.unet
    backbone = backbone or pipe.text_encoder
    metrics: dict[str, Any] = {"round_id": round_id, "parent_version": parent_version}
    gen_kw = dict(num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale, unet=unet)
    # 1. Collect feedback on the current model's samples (and unlabeled samples for Eq. 3).
    t = time.time()
    fs = collect_feedback(
        pipe,
        prompts,
        cfg.images_per_prompt,
        raters,
        seed,
        round_id,
        store=store,
        unet_version=parent_version,
        progress=progress,
        **gen_kw,
    )
    unlabeled = None
    if cfg.finetune.use_unlabeled and cfg.unlabeled_per_prompt > 0:
        unlabeled = collect_feedback(
            pipe,
            prompts,
            cfg.unlabeled_per_prompt,
            None,
            seed + 7_919,
            round_id,
            store=store,
            unet_version=parent_version,
            progress=progress,
            **gen_kw,
        )
    metrics.update(collect_seconds=round(time.time() - t, 1), good_rate=fs.good_rate, num_rated=len(fs))
    # 2. Train the reward model (Eqs. 1-2) on this round's labels, plus earlier rounds' if accumulating.
    t = time.time()
    train_sets = ([*(previous_feedback or []), fs]) if cfg.accumulate_feedback else [fs]
    train = FeedbackSet.concat(train_sets, round_id=round_id)
    reward_cfg = dataclasses.replace(cfg.reward, seed=cfg.reward.seed + seed)
    reward_model = train_reward_model(backbone, train.images, train.prompts, train.labels, reward_cfg)
    metrics.update(reward_seconds=round(time.time() - t, 1), reward=_summary(reward_model.metrics))
    # 3. Fine-tune the UNet by reward-weighted likelihood (Eq. 3).
    t = time.time()
    ft_metrics: dict[str, Any] = {}
    ft_cfg = dataclasses.replace(cfg.finetune, seed=cfg.finetune.seed + seed)
    new_unet = finetune_unet(
        pipe, reward_model, fs, ft_cfg, unlabeled, unet=unet, metrics_out=ft_metrics, progress=progress
    )
    metrics.update(finetune_seconds=round(time.time() - t, 1), finetune=_summary(ft_metrics))
    # 4. Save (and publish) the round's models.
    unet_dir = reward_dir = None
    version = f"{round_id}-unet"
    if out_dir is not None:
        unet_dir, reward_dir = Path(out_dir) / round_id / "unet", Path(out_dir) / round_id / "reward"
        version = save_unet(new_unet, unet_dir, parent_version, dataclasses.asdict(cfg), metrics)
        reward_model.save(reward_dir, round=round_id)
        if store is not None:
            from t2ialign.store import model_prefix, upload_folder

            upload_folder(store, unet_dir, model_prefix("unet", version))
            upload_folder(store, reward_dir, model_prefix("reward", reward_model.version))
    if evaluate is not None:
        metrics["evaluation"] = evaluate(pipe, new_unet)
    return RoundResult(
        round_id, fs, unlabeled, reward_model, new_unet, version, parent_version, metrics, unet_dir, reward_dir
    )


def run_rounds(
    n_rounds: int,
    pipe: ToyPipeline,
    prompts: list[PromptSpec],
    raters: SimulatedRaters,
    cfg: RoundConfig | None = None,
    seed: int = 0,
    round_prefix: str = "r",
    parent_version: str = "base",
    **kwargs: Any,
) -> list[RoundResult]:
    """Chain `n_rounds` rounds: round k+1 samples from round k's fine-tuned UNet and continues training it.

    Round ids are f"{round_prefix}{k}" (k from 1); round k uses seed `seed + k`. kwargs go to `run_round`.
    """
    if n_rounds < 1:
        raise ValueError(f"n_rounds must be >= 1, got {n_rounds}")
    results: list[RoundResult] = []
    unet = kwargs.pop("unet", None) or pipe.unet
    for k in range(1, n_rounds + 1):
        res = run_round(
            pipe,
            prompts,
            raters,
            f"{round_prefix}{k}",
            cfg,
            seed=seed + k,
            unet=unet,
            parent_version=parent_version,
            previous_feedback=[r.feedback for r in results],
            **kwargs,
        )
        results.append(res)
        unet, parent_version = res.unet, res.unet_version
    return results


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics without bulky entries (per-step history, full configs)."""
    return {k: v for k, v in metrics.items() if k not in ("history", "config")}
