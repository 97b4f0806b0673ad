"""`t2ialign reproduce`: the whole of Lee et al. 2023 on the toy world, with fixed seeds, and a report.

1. Collect feedback on the base model (simulated raters), plus unlabeled samples.
2. Train the reward model r_phi with and without L_pc.
3. Fine-tune the ablation (docs/METHOD.md): labeled only; + unlabeled; + pre-training loss (the full method).
   Or, with `rounds` > 0 (preset "rounds"), chain rounds instead: each round collects feedback from the last
   round's UNet, trains r_phi on every label so far, and fine-tunes with r_phi as a ranker within each prompt.
4. Evaluate base, each ablation and best-of-16 on fixed seen/unseen prompts: oracle alignment, the simulated
   nine-rater panel, fidelity (Fréchet distance), diversity, mean reward; and r_phi's accuracy vs CLIP score.
5. Write results.json, report.md, report.html, grids and plots to --out; print the headline as JSON.
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

from t2ialign.evaluation.alignment import alignment_by_category, flat_eval_prompts, generate_for_prompts, oracle_matches
from t2ialign.evaluation.best_of_n import score_sets, select_top
from t2ialign.evaluation.fidelity import clean_renders, diversity, image_embeddings, pooled_frechet_distance
from t2ialign.evaluation.panel import PanelResult, panel_from_matches
from t2ialign.evaluation.presets import ABLATIONS, ReproduceConfig
from t2ialign.evaluation.report import ReportData, check_targets, write_report
from t2ialign.evaluation.reward_accuracy import clip_scores, reward_accuracy
from t2ialign.models.clip import ClipBackbone
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


def _mean_by_split(values: np.ndarray, splits: list[str]) -> dict[str, float]:
    spl = np.array(splits)
    out = {s: round(float(values[spl == s].mean()), 4) for s in dict.fromkeys(splits)}
    out["all"] = round(float(values.mean()), 4)
    return out


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b > 0 else float("nan")


def _fd(emb: np.ndarray, ref: np.ndarray) -> float:
    """Fréchet distance between (P, K, D) generated and reference embeddings, pooled over prompts."""
    return round(pooled_frechet_distance(emb, ref), 5)


def _panel_summary(result: PanelResult, splits: list[str]) -> dict:
    return {**result.by_split(splits), "by_category": result.by_category()}


def reproduce(
    cfg: ReproduceConfig,
    out_dir: str | Path = DEFAULT_OUT,
    clip_dir: str | Path = DEFAULT_CLIP,
    generator_dir: str | Path = DEFAULT_GENERATOR,
    log: bool = True,
) -> dict:
    """Run the reproduction and write the report; returns the results (with "headline")."""
    t_start = time.time()
    out_dir, timings = Path(out_dir), {}
    # 1. Check inputs and load the base models.
    for what, folder in (("CLIP", clip_dir), ("generator", generator_dir)):
        if not (Path(folder) / "manifest.json").is_file():
            raise FileNotFoundError(
                f"{what} folder {folder} has no manifest.json; train it with "
                f"`t2ialign pretrain {what.lower()}` or pass --{what.lower()} DIR"
            )
    if cfg.best_of < cfg.eval_images_per_prompt:
        raise ValueError(f"best_of ({cfg.best_of}) must be >= eval_images_per_prompt ({cfg.eval_images_per_prompt})")
    clip = ClipBackbone.load(clip_dir)
    pipe = ToyPipeline.load(generator_dir, clip=clip)
    gen_kw = dict(num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale)
    oracle, seed = Oracle(), cfg.seed

    raters, chained = SimulatedRaters(seed=seed, oracle=oracle), []
    if cfg.rounds:  # 2-4, chained: each round collects, trains r_phi and fine-tunes (training/rounds.py)
        with stage(f"{cfg.rounds} chained rounds", timings, log):
            chained = _chained_rounds(cfg, pipe, raters, out_dir, log)
        feedback = FeedbackSet.concat([r.feedback for r in chained], round_id="reproduce")
        unlabeled_sets = [r.unlabeled for r in chained if r.unlabeled is not None]
        unlabeled = FeedbackSet.concat(unlabeled_sets) if unlabeled_sets else None
    else:  # 2. Feedback on the base model: rated samples of seen-object prompts, and unlabeled samples.
        with stage("collect feedback", timings, log):
            rng = random.Random(seed * 7_919 + 1)
            fb_prompts = [
                sample_prompt(rng, c, SEEN_OBJECTS, max_count(pipe.resolution))
                for c in CATEGORIES
                for _ in range(cfg.feedback_prompts_per_category)
            ]
            feedback = collect_feedback(
                pipe, fb_prompts, cfg.images_per_prompt, raters, seed, "reproduce", progress=log, **gen_kw
            )
            unlabeled = None
            if cfg.unlabeled_per_prompt:
                unlabeled = collect_feedback(
                    pipe,
                    fb_prompts,
                    cfg.unlabeled_per_prompt,
                    None,
                    seed + 7_919,
                    "reproduce-unlabeled",
                    progress=log,
                    **gen_kw,
                )
    truth = oracle.judge_batch(feedback.images, feedback.prompts)
    labeled = feedback.labeled()

    # 3. Reward models, with and without L_pc (Eqs. 1-2), on every label collected.
    with stage("train reward models", timings, log):
        reward_cfg = dataclasses.replace(cfg.reward, seed=cfg.reward.seed + seed)
        reward = train_reward_model(clip, labeled.images, labeled.prompts, labeled.labels, reward_cfg)
        reward_no_pc = train_reward_model(
            clip, labeled.images, labeled.prompts, labeled.labels, dataclasses.replace(reward_cfg, pc_weight=0.0)
        )

    # 4. Fine-tune each ablation (Eq. 3) from the base UNet; or take the rounds' UNets (the last is "finetuned").
    unets, ft_metrics, ranker = {}, {}, reward  # ranker: the reward model that fine-tuning used, for best-of-n
    if cfg.rounds:
        unets = {f"round_{k}": r.unet for k, r in enumerate(chained[:-1], 1)} | {"finetuned": chained[-1].unet}
        ft_metrics["finetuned"], ranker = chained[-1].metrics.get("finetune", {}), chained[-1].reward_model
    for name, overrides in () if cfg.rounds else ABLATIONS.items():
        with stage(f"fine-tune {name}", timings, log):
            ft_cfg = dataclasses.replace(cfg.finetune, seed=cfg.finetune.seed + seed, **overrides)
            ft_metrics[name] = {}
            unets[name] = finetune_unet(
                pipe, reward, feedback, ft_cfg, unlabeled, metrics_out=ft_metrics[name], progress=log
            )
            ft_metrics[name].pop("history", None)

    # 5. Images of the fixed evaluation prompts: base, each ablation (same seeds), best-of-n from the base.
    prompts, splits = flat_eval_prompts(cfg.eval_prompts_per_category, seed=1234 + seed)
    k, images = cfg.eval_images_per_prompt, {}
    with stage("generate evaluation images", timings, log):
        images["base"] = generate_for_prompts(pipe, prompts, k, 10_000 + seed, desc="base" if log else None, **gen_kw)
        for name, unet in unets.items():
            images[name] = generate_for_prompts(
                pipe, prompts, k, 10_000 + seed, unet=unet, desc=name if log else None, **gen_kw
            )
        pool = generate_for_prompts(
            pipe, prompts, cfg.best_of, 20_000 + seed, desc=f"best-of-{cfg.best_of} pool" if log else None, **gen_kw
        )
        pool_scores = score_sets(ranker, pool, prompts)  # (P, n)
        images["best_of_16"], _ = select_top(pool, pool_scores, k)

    # 6. Per model: oracle alignment, mean reward, fidelity, diversity.
    models, matches = {}, {}
    with stage("evaluate models", timings, log):
        ref = image_embeddings(clip, clean_renders(prompts, k, seed=30_000 + seed, size=pipe.resolution))
        spl = np.array(splits)
        for name, imgs in images.items():
            matches[name] = oracle_matches(imgs, prompts, oracle)
            table, overall = alignment_by_category(matches[name], prompts, splits)
            emb = image_embeddings(clip, imgs)  # (P, K, D)
            fid = {s: _fd(emb[spl == s], ref[spl == s]) for s in dict.fromkeys(splits)}
            fid["all"] = _fd(emb, ref)
            models[name] = {
                "alignment": table,
                "alignment_overall": overall,
                "mean_reward": _mean_by_split(score_sets(reward, imgs, prompts).mean(1), splits),
                "fidelity": fid,
                "diversity": round(diversity(emb), 5),
            }
        models["clean_renders"] = {"diversity": round(diversity(ref), 5)}

    # 7. The simulated nine-rater panel.
    with stage("panel", timings, log):
        pairs = {
            "finetuned_vs_base": ("finetuned", "base"),
            "best_of_16_vs_base": ("best_of_16", "base"),
            "finetuned_vs_best_of_16": ("finetuned", "best_of_16"),
        }
        pairs |= {f"{n}_vs_base": (n, "base") for n in unets if n.startswith("round_")}  # chained rounds
        panel_results = {name: panel_from_matches(matches[a], matches[b], cfg.panel) for name, (a, b) in pairs.items()}
        for r in panel_results.values():
            r.categories = [p.category for p in prompts]
        panels = {name: _panel_summary(r, splits) for name, r in panel_results.items()}

    # 8. Reward-model accuracy against the oracle on the held-out best-of-n pool (never trained on).
    with stage("reward-model accuracy", timings, log):
        flat_pool = pool.reshape(-1, *pool.shape[2:])
        texts = [p.text for p in prompts for _ in range(cfg.best_of)]
        test_labels = oracle_matches(pool, prompts, oracle).reshape(-1).astype(int)
        test_splits = [s for s in splits for _ in range(cfg.best_of)]
        test_cats = [p.category for p in prompts for _ in range(cfg.best_of)]
        train_labels = np.array(labeled.labels, int)
        scorers = {"reward": reward, "reward_without_pc": reward_no_pc}
        test_scores = {n: m.score(flat_pool, texts).numpy() for n, m in scorers.items()}
        test_scores["clip_score"] = clip_scores(clip, flat_pool, texts)
        train_scores = {"clip_score": clip_scores(clip, labeled.images, labeled.prompts)}
        accuracy = reward_accuracy(
            train_scores,
            train_labels,
            test_scores,
            test_labels,
            test_splits,
            test_cats,
            fixed_thresholds={"reward": 0.5, "reward_without_pc": 0.5},
        )

    # 9. Results, headline, report, models.
    results = {
        "config": dataclasses.asdict(cfg),
        "machine": machine(),
        "stage_seconds": timings,
        "feedback": {
            "images": len(feedback),
            "labeled": len(labeled),
            "good_rate": round(feedback.good_rate, 4),
            "oracle_good_rate": round(float(truth.mean()), 4),
            "unlabeled": len(unlabeled) if unlabeled is not None else 0,
        },
        "models": models,
        "panels": panels,
        "finetune": ft_metrics,
        "rounds": [_round_summary(r) for r in chained] if cfg.rounds else [],
        "reward_model": {
            "accuracy": accuracy,
            "training": {n: {k: v for k, v in m.metrics.items() if k != "config"} for n, m in scorers.items()},
        },
    }
    ra = accuracy
    results["headline"] = {
        "alignment": {m: models[m]["alignment"] for m in ("base", "finetuned", "best_of_16")},
        "panel": panels["finetuned_vs_base"]["all"],
        "fidelity_ratio": _ratio(models["finetuned"]["fidelity"]["all"], models["base"]["fidelity"]["all"]),
        "diversity_ratio": _ratio(models["finetuned"]["diversity"], models["base"]["diversity"]),
        "reward_model": {
            "unseen_accuracy": ra["unseen"]["reward"]["accuracy"],
            "unseen_accuracy_without_pc": ra["unseen"]["reward_without_pc"]["accuracy"],
            "clip_score_unseen_accuracy": ra["unseen"]["clip_score"]["accuracy"],
            "seen_accuracy": ra["seen"]["reward"]["accuracy"],
            "seen_accuracy_without_pc": ra["seen"]["reward_without_pc"]["accuracy"],
            "clip_score_seen_accuracy": ra["seen"]["clip_score"]["accuracy"],
        },
        "mean_reward": {m: models[m]["mean_reward"]["all"] for m in images},
        "panel_best_of_16_vs_base": panels["best_of_16_vs_base"]["all"],
        "panel_finetuned_vs_best_of_16": panels["finetuned_vs_best_of_16"]["all"],
    }
    with stage("write report", timings, log):
        out_dir.mkdir(parents=True, exist_ok=True)
        parent = chained[-1].parent_version if cfg.rounds else "base"
        save_unet(
            unets["finetuned"], out_dir / "models" / "finetuned_unet", parent, cfg.finetune, ft_metrics["finetuned"]
        )
        reward.save(out_dir / "models" / "reward", preset=cfg.preset)
        reward_no_pc.save(out_dir / "models" / "reward_without_pc", preset=cfg.preset)
        results["seconds"] = round(time.time() - t_start, 1)
        results["headline"]["seconds"] = results["seconds"]
        results["targets"] = {k: v["met"] for k, v in check_targets(results).items()}
        data = ReportData(prompts, splits, images, matches, test_scores, test_labels, test_splits)
        write_report(results, data, out_dir)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    results["seconds"] = results["headline"]["seconds"] = round(time.time() - t_start, 1)
    return results


def _chained_rounds(
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
