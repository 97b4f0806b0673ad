"""The shipped reward model r_phi (Lee et al. 2023 §3.1-3.2 on the toy world): `t2ialign pretrain reward`.

1. Samples: the shipped base generator draws `images_per_prompt` images of each feedback prompt
   (training.rounds.round_prompts: every seen count prompt plus sampled seen-object prompts per category).
2. Labels: the simulated raters (10% flips, 5% skips, three images at a time) mark each good or bad
   (training.feedback.collect_feedback).
3. Reference pairs (training.reference_pairs): `reference_pairs` clean renders of the feedback prompts beside
   one-attribute mismatches, labeled by the same raters, join the training set (cheap: no sampling).
4. r_phi trains on the labels (training.reward_train, Eq. 1 [+ lambda Eq. 2]); the export in `weights/toy/reward/`
   holds the head (safetensors), its config, the normalization statistics and a sha256 manifest.

Generation is the slow part, so the rated pool is written chunk by chunk to `<out>-checkpoint/pool/`
(`.npz` of plain arrays, no pickles); `--resume` continues an interrupted pool and `--max-minutes` stops
generating once the budget is spent (after at least one chunk), then trains and exports on what is there;
`--resume --max-minutes 0` retrains on the pool as it is. Training takes seconds.
The pool also keeps the oracle's verdict of every image, for measurement only (benchmarks/reward_choice.py);
training reads the raters' labels.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from t2ialign.common.manifest import sha256_file
from t2ialign.models.reward import RewardConfig, RewardModel
from t2ialign.models.toy_pipeline import UNET_WEIGHTS, ToyPipeline
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import collect_feedback
from t2ialign.training.reference_pairs import reference_pairs
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model
from t2ialign.training.rounds import round_prompts

POOL_STATE = "pool.json"


def shipped_head() -> RewardTrainConfig:
    """The head the recipe ships: the paper's MLP with L_MSE only (Eq. 1, lambda = 0), fed the image*text product
    besides the two embeddings. Chosen by measurement on held-out generated images judged by the oracle and on
    clean one-attribute-mismatch pairs (docs/REWARD_MODEL.md): the paper's L_pc lowered accuracy on seen and unseen
    prompts; the product input and the reference pairs lifted the pairs from 55-60% to 91-95%."""
    return RewardTrainConfig(pc_weight=0.0, reward=RewardConfig(product_features=True))


@dataclass
class RewardPretrainConfig:
    prompts_per_category: int = 40  # sampled seen-object prompts per category, plus the 20 seen count prompts
    images_per_prompt: int = 8  # rated samples per prompt (paper: 6 or 60); 180 prompts x 8 = 1,440 images
    num_inference_steps: int = 10  # sampler steps of the pool (the serving default is 20; alignment is alike)
    guidance_scale: float = 4.0
    seed: int = 0  # prompts, generation noise and the raters' flips and skips
    prompts_per_chunk: int = 10  # prompts per saved chunk: the unit of --resume and --max-minutes
    reference_pairs: int = 16_000  # clean render + one-attribute mismatch pairs added to the labels (not in the pool)
    reward: RewardTrainConfig = field(default_factory=shipped_head)

    def pool_config(self) -> dict[str, object]:
        """What the pool depends on; a resumed pool must match it (the head and reference pairs may change)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("reward", "reference_pairs")}


def tiny_config() -> RewardPretrainConfig:
    """Seconds on a CPU: for smoke tests (`--tiny`)."""
    cfg = RewardPretrainConfig(prompts_per_category=1, images_per_prompt=3, num_inference_steps=2)
    cfg.prompts_per_chunk, cfg.reward.epochs, cfg.reference_pairs = 8, 2, 4
    return cfg


def recipe_reference_pairs(cfg: RewardPretrainConfig, size: int = 32) -> tuple[np.ndarray, list[str], list[int | None]]:
    """The recipe's `cfg.reference_pairs` pairs, over its own feedback prompts and seed."""
    return reference_pairs(round_prompts(cfg.prompts_per_category, cfg.seed), cfg.reference_pairs, cfg.seed, size)


def pool_dir(out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "-checkpoint") / "pool"


def load_pool(folder: str | Path) -> dict[str, np.ndarray]:
    """Every saved chunk joined: images (N, H, W, 3) uint8, prompts (N,), labels (N,) 1/0/-1 (skipped),
    truth (N,) the oracle's verdicts."""
    chunks = sorted(Path(folder).glob("chunk-*.npz"))
    if not chunks:
        raise FileNotFoundError(f"no pool chunks in {folder}; run `t2ialign pretrain reward` first")
    parts = [dict(np.load(p, allow_pickle=False)) for p in chunks]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("images", "prompts", "labels", "truth")}


def _open_pool(folder: Path, cfg: RewardPretrainConfig, generator_sha: str, resume: bool) -> int:
    """Create the pool folder or check the one there; returns how many chunks are already done."""
    state = {"config": cfg.pool_config(), "generator_unet_sha256": generator_sha}
    path = folder / POOL_STATE
    if path.exists():
        if not resume:
            raise ValueError(f"{folder} already holds a pool; pass --resume to continue it, or delete it")
        saved = json.loads(path.read_text())
        if saved != state:
            diff = {k: (saved["config"].get(k), v) for k, v in state["config"].items() if saved["config"].get(k) != v}
            raise ValueError(f"pool {folder} was drawn with another config or generator (saved, requested): {diff}")
        return len(list(folder.glob("chunk-*.npz")))
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    return 0


def draw_pool(
    pipe: ToyPipeline,
    cfg: RewardPretrainConfig,
    folder: Path,
    generator_sha: str,
    resume: bool = False,
    max_minutes: float | None = None,
) -> tuple[int, int]:
    """Generate and rate the pool chunk by chunk (each saved as it completes); returns (chunks done, total)."""
    prompts = round_prompts(cfg.prompts_per_category, cfg.seed)
    random.Random(cfg.seed).shuffle(prompts)  # every prefix of chunks mixes the categories (budget stops, subsets)
    starts = list(range(0, len(prompts), cfg.prompts_per_chunk))
    done = _open_pool(folder, cfg, generator_sha, resume)
    t0, oracle = time.time(), Oracle()
    bar = tqdm(starts[done:], desc="reward pool", unit="chunk", initial=done, total=len(starts))
    for c, start in enumerate(starts[done:], start=done):
        if max_minutes is not None and time.time() - t0 > max_minutes * 60 and c > 0:
            bar.close()  # budget spent: keep what is there (a first chunk is always drawn, so there is something)
            return c, len(starts)
        chunk_seed = cfg.seed * 10_000 + c  # distinct noise per chunk (feedback.prompt_seed adds the index)
        fs = collect_feedback(
            pipe,
            prompts[start : start + cfg.prompts_per_chunk],
            cfg.images_per_prompt,
            SimulatedRaters(seed=chunk_seed),
            seed=chunk_seed,
            round_id="reward-pool",
            num_inference_steps=cfg.num_inference_steps,
            guidance_scale=cfg.guidance_scale,
        )
        labels = np.array([-1 if y is None else y for y in fs.labels])
        tmp = folder / f"partial-{c:05d}.npz"  # not matched by load_pool's chunk-*.npz
        np.savez_compressed(
            tmp,
            images=fs.images,
            prompts=np.array(fs.prompts),
            labels=labels,
            truth=oracle.judge_batch(fs.images, fs.prompts),
        )
        tmp.rename(folder / f"chunk-{c:05d}.npz")  # a chunk is there whole or not at all
        bar.update(1)
        bar.set_postfix(images=(start + cfg.prompts_per_chunk) * cfg.images_per_prompt, good=f"{fs.good_rate:.2f}")
    bar.close()
    return len(starts), len(starts)


def pretrain_reward(
    cfg: RewardPretrainConfig,
    pipe: ToyPipeline,
    generator_dir: str | Path,
    out_dir: str | Path,
    resume: bool = False,
    max_minutes: float | None = None,
) -> RewardModel:
    """Draw (or continue) the rated pool, train r_phi on the raters' labels, export to `out_dir`."""
    generator_sha = sha256_file(Path(generator_dir) / "unet" / UNET_WEIGHTS)
    folder = pool_dir(out_dir)
    done, total = draw_pool(pipe, cfg, folder, generator_sha, resume, max_minutes)
    if done < total:
        print(f"pretrain reward: time budget reached with {done} of {total} chunks; --resume continues the pool")
    pool = load_pool(folder)
    labels = [None if y < 0 else int(y) for y in pool["labels"]]
    ref_images, ref_prompts, ref_labels = recipe_reference_pairs(cfg, size=pool["images"].shape[1])
    model = train_reward_model(
        pipe.text_encoder,
        np.concatenate([pool["images"], ref_images]),
        [str(p) for p in pool["prompts"]] + ref_prompts,
        labels + ref_labels,
        cfg.reward,
        progress=True,
    )
    # `normalized` is relative to the base's own samples (docs/REWARD_MODEL.md), not to the reference renders.
    calibration = [i for i, y in enumerate(labels) if y is not None]
    scores = model.score(pool["images"][calibration], [str(pool["prompts"][i]) for i in calibration])
    model.stats = {"mean": float(scores.mean()), "std": float(scores.std()) if len(scores) > 1 else 1.0}
    model.save(
        out_dir,
        recipe="t2ialign pretrain reward",
        config={**cfg.pool_config(), "reference_pairs": cfg.reference_pairs, "reward": dataclasses.asdict(cfg.reward)},
        pool={
            "reference_images": len(ref_labels),
            "images": len(labels),
            "chunks_done": done,
            "chunks_total": total,
            "raters_good_rate": round(float(np.mean([y for y in labels if y is not None])), 4),
            "oracle_good_rate": round(float(pool["truth"].mean()), 4),
        },
        generator_unet_sha256=generator_sha,
    )
    return model
