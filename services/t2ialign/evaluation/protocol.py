"""The evaluation protocol: how `t2ialign reproduce`, the benchmarks and the coordinator's gate measure a model.

Prompts: `prompts_per_category` held-out prompts per split (seen objects; the unseen object) and category,
drawn with seed 1234 + `seed`. Images: `images_per_prompt` per prompt at seed 10,000 + `seed` (the same
seeds for every model, so models differ only in their weights), with one sampler setting. Best-of-n: `best_of`
base samples per prompt at seed 20,000 + `seed`, the top `images_per_prompt` by a ranker. Metrics per model:
oracle alignment per split and category, mean reward, fidelity (Fréchet distance to clean renders at seed
30,000 + `seed`, in toy-CLIP space) and diversity; the simulated nine-rater panel between named pairs; and,
where a benchmark asks, alignment on every count prompt by number (seed 20,000 + `seed`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
from diffusers import UNet2DConditionModel

from t2ialign.evaluation.alignment import alignment_by_category, flat_eval_prompts, generate_for_prompts, oracle_matches
from t2ialign.evaluation.best_of_n import score_sets, select_top
from t2ialign.evaluation.fidelity import clean_renders, diversity, image_embeddings, pooled_frechet_distance
from t2ialign.evaluation.panel import PanelConfig, panel_from_matches
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.toyworld.grammar import SEEN_OBJECTS, UNSEEN_OBJECTS, PromptSpec, max_count
from t2ialign.toyworld.oracle import Oracle

PROMPT_SEED, IMAGE_SEED, POOL_SEED, REFERENCE_SEED = 1_234, 10_000, 20_000, 30_000
COUNT_SEED = 20_000  # the count sweep (benchmarks) draws its own images
BEST_OF = "best_of_16"  # the name of the best-of-n model in every result (the paper's n)


@dataclass
class EvalProtocol:
    prompts_per_category: int = 15  # per split and category: 60 seen + 60 unseen prompts, as the paper
    images_per_prompt: int = 4  # the panel compares sets of four (paper)
    best_of: int = 16  # best-of-n: n base samples per prompt, keep images_per_prompt (paper: 16)
    num_inference_steps: int = 20  # sampler steps (the pipeline's default sampler)
    guidance_scale: float = 4.0  # CFG scale
    seed: int = 0  # offset of every seed above
    panel: PanelConfig = field(default_factory=PanelConfig)

    def __post_init__(self) -> None:
        if self.prompts_per_category < 1 or self.images_per_prompt < 1 or self.num_inference_steps < 1:
            raise ValueError("prompts_per_category, images_per_prompt and num_inference_steps must be >= 1")
        if self.best_of < self.images_per_prompt:
            raise ValueError(f"best_of ({self.best_of}) must be >= images_per_prompt ({self.images_per_prompt})")

    def prompts(self) -> tuple[list[PromptSpec], list[str]]:
        """The held-out prompts (seen first, category by category) and each one's split."""
        return flat_eval_prompts(self.prompts_per_category, seed=PROMPT_SEED + self.seed)


@dataclass
class Evaluation:
    """What the protocol measured, and the raw images and verdicts behind it (for reports and grids)."""

    prompts: list[PromptSpec]
    splits: list[str]
    models: dict[str, dict]  # name -> alignment, alignment_overall, fidelity, diversity (and mean_reward)
    panels: dict[str, dict]  # "<a>_vs_<b>" -> shares by split and by category
    images: dict[str, np.ndarray]  # name -> (P, K, H, W, 3)
    matches: dict[str, np.ndarray]  # name -> (P, K) oracle verdicts
    pool: np.ndarray | None = None  # (P, best_of, H, W, 3): the base samples behind best-of-n


def generate(
    pipe: ToyPipeline,
    protocol: EvalProtocol,
    prompts: list[PromptSpec],
    unet: UNet2DConditionModel | None = None,
    desc: str | None = None,
) -> np.ndarray:
    """(P, K, H, W, 3): the protocol's images of `unet` (None: the pipeline's own) for `prompts`."""
    return generate_for_prompts(
        pipe,
        prompts,
        protocol.images_per_prompt,
        IMAGE_SEED + protocol.seed,
        protocol.num_inference_steps,
        protocol.guidance_scale,
        unet=unet,
        desc=desc,
    )


def best_of_n_pool(pipe: ToyPipeline, protocol: EvalProtocol, prompts: list[PromptSpec], desc: str | None = None):
    """(P, best_of, H, W, 3) samples of the pipeline's own UNet, from which best-of-n picks."""
    return generate_for_prompts(
        pipe,
        prompts,
        protocol.best_of,
        POOL_SEED + protocol.seed,
        protocol.num_inference_steps,
        protocol.guidance_scale,
        desc=desc,
    )


def mean_by_split(values: np.ndarray, splits: list[str]) -> dict[str, float]:
    spl = np.array(splits)
    out = {s: round(float(values[spl == s].mean()), 4) for s in dict.fromkeys(splits)}
    out["all"] = round(float(values.mean()), 4)
    return out


def measure_models(
    images: dict[str, np.ndarray],
    prompts: list[PromptSpec],
    splits: list[str],
    clip: ClipBackbone,
    protocol: EvalProtocol,
    reward: RewardModel | None = None,
) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Per model: oracle alignment, fidelity, diversity and (with `reward`) mean reward; and its verdicts.

    Adds "clean_renders": the diversity of the fidelity reference itself.
    """
    oracle, spl, models, matches = Oracle(), np.array(splits), {}, {}
    size = next(iter(images.values())).shape[2]
    k = protocol.images_per_prompt
    ref = image_embeddings(clip, clean_renders(prompts, k, seed=REFERENCE_SEED + protocol.seed, size=size))
    for name, imgs in images.items():
        matches[name] = oracle_matches(imgs, prompts, oracle)
        table, overall = alignment_by_category(matches[name], prompts, splits)
        emb = image_embeddings(clip, imgs)  # (P, K, D)
        fid = {s: round(pooled_frechet_distance(emb[spl == s], ref[spl == s]), 5) for s in dict.fromkeys(splits)}
        fid["all"] = round(pooled_frechet_distance(emb, ref), 5)
        models[name] = {"alignment": table, "alignment_overall": overall}
        if reward is not None:
            models[name]["mean_reward"] = mean_by_split(score_sets(reward, imgs, prompts).mean(1), splits)
        models[name] |= {"fidelity": fid, "diversity": round(diversity(emb), 5)}
    models["clean_renders"] = {"diversity": round(diversity(ref), 5)}
    return models, matches


def panels(
    matches: dict[str, np.ndarray],
    pairs: list[tuple[str, str]],
    prompts: list[PromptSpec],
    splits: list[str],
    cfg: PanelConfig,
) -> dict[str, dict]:
    """The simulated panel for each (a, b): shares won / lost / tied by a, over all prompts, by split and category."""
    out = {}
    for a, b in pairs:
        result = panel_from_matches(matches[a], matches[b], cfg)
        result.categories = [p.category for p in prompts]
        out[f"{a}_vs_{b}"] = {**result.by_split(splits), "by_category": result.by_category()}
    return out


def evaluate(
    pipe: ToyPipeline,
    protocol: EvalProtocol,
    unets: dict[str, UNet2DConditionModel | None],
    pairs: list[tuple[str, str]] = (),
    ranker: RewardModel | None = None,
    reward: RewardModel | None = None,
    log: bool = False,
) -> Evaluation:
    """Measure each of `unets` (name -> UNet; None = the pipeline's own) by the protocol.

    `ranker` adds best-of-n from the pipeline's own UNet as model BEST_OF; `reward` scores every model's mean
    reward; `pairs` names the panels, e.g. [("finetuned", "base")].
    """
    prompts, splits = protocol.prompts()
    images = {}
    for name, unet in unets.items():
        images[name] = generate(pipe, protocol, prompts, unet, desc=name if log else None)
    pool = None
    if ranker is not None:
        pool = best_of_n_pool(pipe, protocol, prompts, desc=f"best-of-{protocol.best_of} pool" if log else None)
        images[BEST_OF], _ = select_top(pool, score_sets(ranker, pool, prompts), protocol.images_per_prompt)
    if log:
        print("[evaluate] oracle, fidelity, diversity, panel ...", file=sys.stderr, flush=True)
    models, matches = measure_models(images, prompts, splits, pipe.text_encoder, protocol, reward)
    return Evaluation(
        prompts, splits, models, panels(matches, list(pairs), prompts, splits, protocol.panel), images, matches, pool
    )


def count_alignment(
    pipe: ToyPipeline, protocol: EvalProtocol, unet: UNet2DConditionModel | None = None, images_per_prompt: int = 8
) -> dict[str, object]:
    """Oracle alignment on every count prompt ("three squares": each object x 1..max count): the seen
    objects' by number and overall, and the unseen object's overall."""
    n_max = max_count(pipe.resolution)
    prompts = [
        PromptSpec(o, count=c, category="count") for o in SEEN_OBJECTS + UNSEEN_OBJECTS for c in range(1, n_max + 1)
    ]
    images = generate_for_prompts(
        pipe,
        prompts,
        images_per_prompt,
        COUNT_SEED + protocol.seed,
        protocol.num_inference_steps,
        protocol.guidance_scale,
        unet=unet,
    )
    matches = oracle_matches(images, prompts)
    seen = np.array([p.object in SEEN_OBJECTS for p in prompts])
    number = np.array([p.count for p in prompts])
    return {
        "seen_counts": {c: round(float(matches[seen & (number == c)].mean()), 3) for c in range(1, n_max + 1)},
        "seen_counts_all": round(float(matches[seen].mean()), 3),
        "unseen_counts": round(float(matches[~seen].mean()), 3),
    }


def model_figures(
    pipe: ToyPipeline, protocol: EvalProtocol, unet: UNet2DConditionModel | None = None, count_images: int = 8
) -> dict[str, object]:
    """One model's line in the fine-tuning benchmarks: alignment overall, by split and by category, fidelity,
    diversity, and every count prompt by number (`count_images` each; 0 = not measured)."""
    m = evaluate(pipe, protocol, {"model": unet}).models["model"]
    figures = {**m["alignment_overall"], "by_category": m["alignment"], "fidelity": m["fidelity"]["all"]}
    figures["diversity"] = m["diversity"]
    return figures | (count_alignment(pipe, protocol, unet, count_images) if count_images else {})
