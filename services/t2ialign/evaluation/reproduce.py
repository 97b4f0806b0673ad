"""`t2ialign reproduce`: the whole of Lee et al. 2023 on the toy world, with fixed seeds, and a report.

One function per stage, in order:
1. `load_base_models`: the toy CLIP and the base generator.
2. `collect_base_feedback`: rated samples of seen-object prompts from the base model (simulated raters), plus
   unlabeled samples. Or, with `rounds` > 0 (preset "rounds"), `chained_rounds`: each round collects feedback
   from the last round's UNet, trains r_phi on every label so far, and fine-tunes with r_phi as a ranker.
3. `train_reward_models`: r_phi with and without L_pc (Eqs. 1-2) on every label collected.
4. `finetune_ablation`: the paper's ablation from the base UNet (Eq. 3): labeled only; + unlabeled;
   + pre-training loss (the full method). With rounds, the rounds' UNets instead.
5. `evaluate_models`: base, each fine-tuned UNet and best-of-16 by the evaluation protocol
   (evaluation/protocol.py): oracle alignment, mean reward, fidelity, diversity, the nine-rater panel.
6. `reward_model_accuracy`: r_phi with and without L_pc against CLIP score, on the held-out best-of-16 pool.
7. `summarize` and `write_outputs`: results.json with its headline, report.md, report.html, grids, plots
   and the models, under `out_dir`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DConditionModel

from t2ialign.evaluation.alignment import oracle_matches
from t2ialign.evaluation.presets import ABLATIONS, ReproduceConfig
from t2ialign.evaluation.protocol import BEST_OF, Evaluation, evaluate
from t2ialign.evaluation.report import check_targets, write_report
from t2ialign.evaluation.report_figures import ReportData
from t2ialign.evaluation.reward_accuracy import clip_scores, reward_accuracy
from t2ialign.models.loading import load_base_models
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, REPO_ROOT
from t2ialign.toyworld.grammar import CATEGORIES, SEEN_OBJECTS, max_count, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import FeedbackSet, collect_feedback
from t2ialign.training.finetune import finetune_unet, save_unet
from t2ialign.training.reward_train import train_reward_model
from t2ialign.training.rounds import RoundConfig, RoundResult, round_prompts, run_rounds

DEFAULT_OUT = REPO_ROOT / "runs" / "reproduce"


def machine() -> str:
    return (
        f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}), torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads"
    )


@contextmanager
def stage(name: str, timings: dict[str, float], log: bool = True):
    t = time.time()
    if log:
        print(f"[reproduce] {name} ...", file=sys.stderr, flush=True)
    yield
    timings[name] = round(time.time() - t, 1)
    if log:
        print(f"[reproduce] {name}: done in {timings[name]:.1f} s", file=sys.stderr, flush=True)


def reproduce(
    cfg: ReproduceConfig,
    out_dir: str | Path = DEFAULT_OUT,
    clip_dir: str | Path = DEFAULT_CLIP,
    generator_dir: str | Path = DEFAULT_GENERATOR,
    log: bool = True,
) -> dict:
    """Run the stages of the module docstring and write the report; returns the results (with "headline")."""
    t_start, out_dir, timings = time.time(), Path(out_dir), {}
    pipe = load_base_models(clip_dir, generator_dir)
    raters, chained = SimulatedRaters(seed=cfg.seed), []
    if cfg.rounds:
        with stage(f"{cfg.rounds} chained rounds", timings, log):
            chained = chained_rounds(cfg, pipe, raters, out_dir, log)
        feedback = FeedbackSet.concat([r.feedback for r in chained], round_id="reproduce")
        unlabeled_sets = [r.unlabeled for r in chained if r.unlabeled is not None]
        unlabeled = FeedbackSet.concat(unlabeled_sets) if unlabeled_sets else None
    else:
        with stage("collect feedback", timings, log):
            feedback, unlabeled = collect_base_feedback(cfg, pipe, raters, log)
    with stage("train reward models", timings, log):
        reward, reward_no_pc = train_reward_models(cfg, pipe, feedback.labeled())
    if cfg.rounds:  # the last round's UNet is "finetuned"; its r_phi ranks best-of-n
        unets = {f"round_{k}": r.unet for k, r in enumerate(chained[:-1], 1)} | {"finetuned": chained[-1].unet}
        ft_metrics, ranker = {"finetuned": chained[-1].metrics.get("finetune", {})}, chained[-1].reward_model
    else:
        unets, ft_metrics = finetune_ablation(cfg, pipe, reward, feedback, unlabeled, timings, log)
        ranker = reward
    with stage("evaluate", timings, log):
        evaluation = evaluate_models(cfg, pipe, unets, ranker, reward, log)
    with stage("reward-model accuracy", timings, log):
        accuracy, data = reward_model_accuracy(pipe, evaluation, feedback.labeled(), reward, reward_no_pc)
    results = summarize(cfg, feedback, unlabeled, evaluation, ft_metrics, chained, accuracy, reward, reward_no_pc)
    results["stage_seconds"] = timings
    with stage("write report", timings, log):
        parent = chained[-1].parent_version if cfg.rounds else "base"
        write_outputs(results, data, out_dir, cfg, unets["finetuned"], parent, reward, reward_no_pc, t_start)
    results["seconds"] = results["headline"]["seconds"] = round(time.time() - t_start, 1)
    return results


def collect_base_feedback(
    cfg: ReproduceConfig, pipe: ToyPipeline, raters: SimulatedRaters, log: bool
) -> tuple[FeedbackSet, FeedbackSet | None]:
    """Rated samples of seen-object prompts from the base model, and unlabeled samples of the same prompts."""
    rng = random.Random(cfg.seed * 7_919 + 1)
    prompts = [
        sample_prompt(rng, c, SEEN_OBJECTS, max_count(pipe.resolution))
        for c in CATEGORIES
        for _ in range(cfg.feedback_prompts_per_category)
    ]
    gen_kw = dict(num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale, progress=log)
    feedback = collect_feedback(pipe, prompts, cfg.images_per_prompt, raters, cfg.seed, "reproduce", **gen_kw)
    unlabeled = None
    if cfg.unlabeled_per_prompt:
        unlabeled = collect_feedback(
            pipe, prompts, cfg.unlabeled_per_prompt, None, cfg.seed + 7_919, "reproduce-unlabeled", **gen_kw
        )
    return feedback, unlabeled


def chained_rounds(
    cfg: ReproduceConfig, pipe: ToyPipeline, raters: SimulatedRaters, out_dir: Path, log: bool
) -> list[RoundResult]:
    """cfg.rounds rounds from the base UNet; each round's UNet and r_phi are saved under models/rounds/."""
    round_cfg = RoundConfig(
        images_per_prompt=cfg.images_per_prompt,
        unlabeled_per_prompt=cfg.unlabeled_per_prompt,
        num_inference_steps=cfg.num_inference_steps,
        guidance_scale=cfg.guidance_scale,
        reward=cfg.round_reward,
        finetune=cfg.finetune,
    )
    prompts = round_prompts(cfg.feedback_prompts_per_category, cfg.seed * 7_919 + 5, max_count(pipe.resolution))
    return run_rounds(
        cfg.rounds, pipe, prompts, raters, round_cfg, seed=cfg.seed, out_dir=out_dir / "models" / "rounds", progress=log
    )


def train_reward_models(cfg: ReproduceConfig, pipe: ToyPipeline, labeled: FeedbackSet) -> tuple[RewardModel, ...]:
    """r_phi with L_pc (cfg.reward) and without it, on the toy CLIP, from every label collected."""
    reward_cfg = dataclasses.replace(cfg.reward, seed=cfg.reward.seed + cfg.seed)
    return tuple(
        train_reward_model(pipe.text_encoder, labeled.images, labeled.prompts, labeled.labels, c)
        for c in (reward_cfg, dataclasses.replace(reward_cfg, pc_weight=0.0))
    )


def finetune_ablation(
    cfg: ReproduceConfig,
    pipe: ToyPipeline,
    reward: RewardModel,
    feedback: FeedbackSet,
    unlabeled: FeedbackSet | None,
    timings: dict[str, float],
    log: bool,
) -> tuple[dict[str, UNet2DConditionModel], dict[str, dict]]:
    """Each arm of ABLATIONS fine-tuned from the base UNet by Eq. 3, weighted by r_phi; and its metrics."""
    unets, metrics = {}, {}
    for name, overrides in ABLATIONS.items():
        with stage(f"fine-tune {name}", timings, log):
            ft_cfg = dataclasses.replace(cfg.finetune, seed=cfg.finetune.seed + cfg.seed, **overrides)
            metrics[name] = {}
            unets[name] = finetune_unet(
                pipe, reward, feedback, ft_cfg, unlabeled, metrics_out=metrics[name], progress=log
            )
            metrics[name].pop("history", None)
    return unets, metrics


def evaluate_models(
    cfg: ReproduceConfig,
    pipe: ToyPipeline,
    unets: dict[str, UNet2DConditionModel],
    ranker: RewardModel,
    reward: RewardModel,
    log: bool,
) -> Evaluation:
    """The base, each fine-tuned UNet and best-of-n (ranked by `ranker`) by the protocol; panels against the
    base (each round's too) and fine-tuned against best-of-n; mean reward by `reward`."""
    pairs = [("finetuned", "base"), (BEST_OF, "base"), ("finetuned", BEST_OF)]
    pairs += [(n, "base") for n in unets if n.startswith("round_")]
    return evaluate(pipe, cfg.evaluation, {"base": None, **unets}, pairs, ranker=ranker, reward=reward, log=log)


def reward_model_accuracy(
    pipe: ToyPipeline, evaluation: Evaluation, labeled: FeedbackSet, reward: RewardModel, reward_no_pc: RewardModel
) -> tuple[dict, ReportData]:
    """r_phi with and without L_pc (threshold 0.5) and CLIP score (threshold fit on the labels) against the
    oracle, on the best-of-n pool (never trained on); and the report's raw material."""
    pool, prompts, splits = evaluation.pool, evaluation.prompts, evaluation.splits
    n = pool.shape[1]
    flat_pool = pool.reshape(-1, *pool.shape[2:])
    texts = [p.text for p in prompts for _ in range(n)]
    test_labels = oracle_matches(pool, prompts, Oracle()).reshape(-1).astype(int)
    test_splits = [s for s in splits for _ in range(n)]
    test_cats = [p.category for p in prompts for _ in range(n)]
    scorers = {"reward": reward, "reward_without_pc": reward_no_pc}
    test_scores = {name: m.score(flat_pool, texts).numpy() for name, m in scorers.items()}
    test_scores["clip_score"] = clip_scores(pipe.text_encoder, flat_pool, texts)
    accuracy = reward_accuracy(
        {"clip_score": clip_scores(pipe.text_encoder, labeled.images, labeled.prompts)},
        np.array(labeled.labels, int),
        test_scores,
        test_labels,
        test_splits,
        test_cats,
        fixed_thresholds={"reward": 0.5, "reward_without_pc": 0.5},
    )
    data = ReportData(prompts, splits, evaluation.images, evaluation.matches, test_scores, test_labels, test_splits)
    return accuracy, data


def summarize(
    cfg: ReproduceConfig,
    feedback: FeedbackSet,
    unlabeled: FeedbackSet | None,
    evaluation: Evaluation,
    ft_metrics: dict[str, dict],
    chained: list[RoundResult],
    accuracy: dict,
    reward: RewardModel,
    reward_no_pc: RewardModel,
) -> dict:
    """results.json's content, with its "headline": the figures `--json` prints."""
    models, panels = evaluation.models, evaluation.panels
    truth = Oracle().judge_batch(feedback.images, feedback.prompts)
    results = {
        "config": dataclasses.asdict(cfg),
        "machine": machine(),
        "feedback": {
            "images": len(feedback),
            "labeled": len(feedback.labeled()),
            "good_rate": round(feedback.good_rate, 4),
            "oracle_good_rate": round(float(truth.mean()), 4),
            "unlabeled": len(unlabeled) if unlabeled is not None else 0,
        },
        "models": models,
        "panels": panels,
        "finetune": ft_metrics,
        "rounds": [_round_summary(r) for r in chained],
        "reward_model": {
            "accuracy": accuracy,
            "training": {
                n: {k: v for k, v in m.metrics.items() if k != "config"}
                for n, m in (("reward", reward), ("reward_without_pc", reward_no_pc))
            },
        },
    }

    def acc(split: str, scorer: str) -> float:
        return accuracy[split][scorer]["accuracy"]

    results["headline"] = {
        "alignment": {m: models[m]["alignment"] for m in ("base", "finetuned", BEST_OF)},
        "panel": panels["finetuned_vs_base"]["all"],
        "fidelity_ratio": _ratio(models["finetuned"]["fidelity"]["all"], models["base"]["fidelity"]["all"]),
        "diversity_ratio": _ratio(models["finetuned"]["diversity"], models["base"]["diversity"]),
        "reward_model": {
            "unseen_accuracy": acc("unseen", "reward"),
            "unseen_accuracy_without_pc": acc("unseen", "reward_without_pc"),
            "clip_score_unseen_accuracy": acc("unseen", "clip_score"),
            "seen_accuracy": acc("seen", "reward"),
            "seen_accuracy_without_pc": acc("seen", "reward_without_pc"),
            "clip_score_seen_accuracy": acc("seen", "clip_score"),
        },
        "mean_reward": {m: models[m]["mean_reward"]["all"] for m in evaluation.images},
        "panel_best_of_16_vs_base": panels[f"{BEST_OF}_vs_base"]["all"],
        "panel_finetuned_vs_best_of_16": panels[f"finetuned_vs_{BEST_OF}"]["all"],
    }
    return results


def write_outputs(
    results: dict,
    data: ReportData,
    out_dir: Path,
    cfg: ReproduceConfig,
    finetuned: UNet2DConditionModel,
    parent_version: str,
    reward: RewardModel,
    reward_no_pc: RewardModel,
    t_start: float,
) -> None:
    """The fine-tuned UNet and both reward models under models/, the report, and results.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    save_unet(
        finetuned, out_dir / "models" / "finetuned_unet", parent_version, cfg.finetune, results["finetune"]["finetuned"]
    )
    reward.save(out_dir / "models" / "reward", preset=cfg.preset)
    reward_no_pc.save(out_dir / "models" / "reward_without_pc", preset=cfg.preset)
    results["seconds"] = results["headline"]["seconds"] = round(time.time() - t_start, 1)
    results["targets"] = {k: v["met"] for k, v in check_targets(results).items()}
    write_report(results, data, out_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b > 0 else float("nan")


def _round_summary(result: RoundResult) -> dict:
    m = result.metrics
    keys = (
        "round_id",
        "parent_version",
        "good_rate",
        "num_rated",
        "collect_seconds",
        "reward_seconds",
        "finetune_seconds",
    )
    return {k: m[k] for k in keys if k in m} | {"unet_version": result.unet_version}
