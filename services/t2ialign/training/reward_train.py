"""Step 2 of Lee et al. 2023 (§3.2, docs/METHOD.md): learn the reward function r_phi(x, z) from human labels.

    Eq. 1  L_MSE = E[(y - r_phi(x, z))^2]                         over labeled (x, z, y), y in {0, 1}
    Eq. 2  L_pc  = E[-log softmax_j(r_phi(x, z_j) / T)[true]]      over images labeled good, where the
           candidates z_j are the true prompt and N-1 prompts with one attribute swapped
    L = L_MSE + lambda * L_pc                                      (paper: T = 2, lambda = 0.5)

The CLIP backbone is frozen, so image and text embeddings are computed once and only the MLP head trains.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from t2ialign.models.clip import ClipBackbone
from t2ialign.models.precision import Precision
from t2ialign.models.reward import RewardConfig, RewardModel
from t2ialign.toyworld.grammar import ATTRIBUTES, SEEN_OBJECTS, max_count, parse_prompt, perturb
from t2ialign.training.checkpoint import load_training_state, read_training_extra, save_training_state
from t2ialign.training.hooks import LoopHooks, StepInfo


@dataclass
class RewardTrainConfig:
    temperature: float = 2.0  # T of Eq. 2 (paper: 2); a higher T softens the softmax over candidate prompts
    pc_weight: float = 0.5  # lambda (paper: 0.5); 0 gives the ablation "without L_pc"
    num_prompts: int = 10  # N = the true prompt + N-1 perturbed ones (not given; one reimplementation used 10)
    lr: float = 1e-3  # AdamW; a small head on fixed embeddings converges fast at this rate
    epochs: int = 60  # passes over the labeled set; with `val` the best epoch is kept (early stopping)
    batch_size: int = 128  # labeled images per step; L_pc uses the good ones among them
    weight_decay: float = 1e-2  # AdamW decoupled decay; thousands of labels with 10% flips overfit without it
    seed: int = 0  # shuffling, dropout and the choice of perturbed prompts
    perturb_objects: tuple[str, ...] = SEEN_OBJECTS  # objects a swap may name: seen only, so unseen stay unseen
    perturb_attributes: tuple[str, ...] = ATTRIBUTES  # attributes a swap may change (paper: all four)
    max_objects: int | None = None  # counts a swap may use; None = what fits the image size (4 at 32x32)
    reward: RewardConfig = field(default_factory=RewardConfig)  # head architecture (paper: 1,024 hidden units)

    def __post_init__(self) -> None:  # JSON overrides give lists; hold tuples, as the defaults
        self.perturb_objects, self.perturb_attributes = tuple(self.perturb_objects), tuple(self.perturb_attributes)
        if isinstance(self.reward, dict):
            self.reward = RewardConfig(**self.reward)


def rating_loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. 1: mean squared error between r_phi(x, z) and the label y (1 good, 0 bad). pred, y: (B,)."""
    return F.mse_loss(pred, y.to(pred.dtype))


def prompt_classification_loss(
    scores: torch.Tensor, true_index: torch.Tensor, temperature: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 2: mean over B of -log( exp(r_true / T) / sum_j exp(r_j / T) ).

    scores: (B, N) rewards of each image against its N candidate prompts; true_index: (B,) which column is
    the true prompt; mask: optional (B, N) bool, False for padding (a prompt with fewer than N-1 perturbations).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = scores / temperature  # (B, N)
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return F.cross_entropy(logits, true_index.long())


def perturbed_candidates(
    prompt: str,
    n: int,
    rng: random.Random,
    objects: tuple[str, ...] = SEEN_OBJECTS,
    max_objects: int = 4,
    attributes: tuple[str, ...] = ATTRIBUTES,
) -> list[str]:
    """Up to n distinct prompts, each with one stated attribute among `attributes` swapped (grammar.perturb).

    Same procedure as grammar.perturbed_prompts, but a swapped object is drawn from `objects`, so training
    never names the held-out (unseen) objects.
    """
    spec = parse_prompt(prompt)
    swappable = [a for a in spec.present_attributes if a in attributes]
    seen, out = {spec.text}, []
    for _ in range(n * 20 if swappable else 0):
        if len(out) == n:
            break
        attr = rng.choice(swappable)
        if attr == "object" and len([o for o in objects if o != spec.object]) == 0:
            continue
        cand = perturb(spec, attr, rng, objects=objects, max_objects=max_objects).text
        if cand not in seen:
            seen.add(cand)
            out.append(cand)
    return out


@torch.no_grad()
def embed_images(
    backbone: ClipBackbone, images: np.ndarray, batch_size: int = 256, precision: Precision | None = None
) -> torch.Tensor:
    """Frozen CLIP image embeddings, (N, D) float32; the forward runs in `precision` (default: the package's)."""
    backbone.eval()
    with (precision or Precision.resolve(device=backbone.device)).autocast():
        out = [backbone.encode_images(images[i : i + batch_size]).float() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def embed_texts(
    backbone: ClipBackbone, texts: list[str], batch_size: int = 512, precision: Precision | None = None
) -> torch.Tensor:
    """Frozen CLIP text embeddings, (N, D) float32; the forward runs in `precision` (default: the package's)."""
    backbone.eval()
    with (precision or Precision.resolve(device=backbone.device)).autocast():
        out = [backbone.encode_text(texts[i : i + batch_size]).float() for i in range(0, len(texts), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def reward_accuracy(
    model: RewardModel, images: np.ndarray, prompts: list[str], truth: list[int] | np.ndarray, threshold: float = 0.5
) -> float:
    """Share of pairs where (r_phi > threshold) equals the truth (e.g. the oracle's verdict)."""
    pred = model.score(images, prompts).numpy() > threshold
    return float(np.mean(pred == np.asarray(truth, dtype=bool)))


def _head_version(model: RewardModel) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.head.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return "reward-" + h.hexdigest()[:12]


def _rank_share(batch: torch.Tensor, hooks: LoopHooks) -> tuple[torch.Tensor, float]:
    """This rank's part of a global batch and the factor that makes the ranks' averaged mean losses equal the
    one-process mean: len(part) / len(batch) * world_size. An empty part computes one sample at factor 0."""
    if hooks.world_size == 1:
        return batch, 1.0
    part = torch.tensor_split(batch, hooks.world_size)[hooks.rank]
    if len(part) == 0:
        return batch[:1], 0.0
    return part, len(part) / len(batch) * hooks.world_size


def _save(
    folder: Path,
    epochs_done: int,
    cfg: RewardTrainConfig,
    model: RewardModel,
    opt: torch.optim.Optimizer,
    best: tuple[float, dict[str, torch.Tensor]] | None,
    history: list[dict[str, float]],
) -> None:
    """A resumable checkpoint at an epoch boundary: head, AdamW, the best epoch so far, torch's RNG."""
    tensors = {"torch_rng": torch.get_rng_state(), **{f"best.{k}": v for k, v in (best[1] if best else {}).items()}}
    extra = {"best_val_accuracy": best[0] if best else None, "history": history}
    save_training_state(folder, epochs_done, dataclasses.asdict(cfg), model.head, opt, None, tensors, extra)


def _restore(
    folder: Path,
    cfg: RewardTrainConfig,
    model: RewardModel,
    opt: torch.optim.Optimizer,
    history: list[dict[str, float]],
) -> tuple[int, tuple[float, dict[str, torch.Tensor]] | None]:
    """Load a `_save` checkpoint; returns (epochs done, best)."""
    epochs_done = load_training_state(folder, json.loads(json.dumps(dataclasses.asdict(cfg))), model.head, opt)
    tensors, extra = read_training_extra(folder)
    torch.set_rng_state(tensors.pop("torch_rng"))
    history.extend(extra["history"])
    best_head = {k[len("best.") :]: v for k, v in tensors.items()}
    best = (extra["best_val_accuracy"], best_head) if extra["best_val_accuracy"] is not None else None
    return epochs_done, best


def train_reward_model(
    backbone: ClipBackbone,
    images: np.ndarray,
    prompts: list[str],
    labels: list[int | None],
    cfg: RewardTrainConfig | None = None,
    val: tuple[np.ndarray, list[str], list[int]] | None = None,
    progress: bool = False,
    init: RewardModel | None = None,
    hooks: LoopHooks | None = None,
) -> RewardModel:
    """Train r_phi on labeled images with L = L_MSE + lambda * L_pc (Eqs. 1-2); returns the model.

    Skipped labels (None) are dropped. `val` = (images, prompts, truth) picks the best epoch by accuracy.
    The returned model carries normalization statistics (mean/std of its scores on the training images),
    a version string derived from its weights, and `metrics` (losses, accuracies, data sizes).
    `init` continues from a trained head (its architecture wins over cfg.reward). `hooks` (training/hooks.py):
    data-parallel rank (each rank computes its share of every batch, gradients averaged), resume at an
    epoch boundary, and a per-step callback.
    """
    cfg = cfg or RewardTrainConfig()
    hooks = hooks or LoopHooks()
    # 1. Check inputs.
    if not (len(images) == len(prompts) == len(labels)):
        raise ValueError(f"got {len(images)} images, {len(prompts)} prompts and {len(labels)} labels; need one each")
    keep = [i for i, y in enumerate(labels) if y is not None]
    if not keep:
        raise ValueError("no labeled images (every label is None); collect feedback with raters first")
    if cfg.num_prompts < 2 and cfg.pc_weight > 0:
        raise ValueError(f"num_prompts must be >= 2 for L_pc (true + perturbed), got {cfg.num_prompts}")
    unknown = [a for a in cfg.perturb_attributes if a not in ATTRIBUTES]
    if unknown or (cfg.pc_weight > 0 and not cfg.perturb_attributes):
        raise ValueError(f"perturb_attributes must be a non-empty subset of {ATTRIBUTES}, got {cfg.perturb_attributes}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {cfg.epochs}, {cfg.batch_size}")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    images = np.asarray(images)[keep]
    prompts = [prompts[i] for i in keep]
    y = torch.tensor([float(labels[i]) for i in keep])  # (M,)
    max_objects = cfg.max_objects or max_count(images.shape[1])

    # 2. Candidate prompts for Eq. 2: column 0 is the true prompt, then up to N-1 perturbations (padded).
    n = cfg.num_prompts
    cands = [
        [p]
        + (perturbed_candidates(p, n - 1, rng, cfg.perturb_objects, max_objects, cfg.perturb_attributes) if yy else [])
        for p, yy in zip(prompts, y.tolist(), strict=True)
    ]
    texts = sorted({t for c in cands for t in c})
    text_index = {t: i for i, t in enumerate(texts)}
    cand_idx = torch.zeros(len(prompts), n, dtype=torch.long)  # (M, N)
    cand_mask = torch.zeros(len(prompts), n, dtype=torch.bool)
    for i, c in enumerate(cands):
        cand_idx[i, : len(c)] = torch.tensor([text_index[t] for t in c])
        cand_mask[i, : len(c)] = True

    # 3. Frozen embeddings, once.
    img_e = embed_images(backbone, images)  # (M, D)
    txt_e = embed_texts(backbone, texts)  # (T, D)
    val_e = None
    if val is not None:
        val_e = (embed_images(backbone, val[0]), embed_texts(backbone, list(val[1])), torch.tensor(val[2]).bool())

    # 4. Train the head.
    head_cfg = dataclasses.replace(init.cfg if init else cfg.reward, backbone=backbone.model_name)
    model = RewardModel(backbone, head_cfg, version="training")
    if init is not None:
        model.head.load_state_dict(init.head.state_dict())
    opt = torch.optim.AdamW(model.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    good = y > 0.5
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    first = 0
    if hooks.resume_from is not None:
        first, best = _restore(hooks.resume_from, cfg, model, opt, history)
    steps_per_epoch = -(-len(y) // cfg.batch_size)
    epochs = range(first, cfg.epochs)
    if progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc="train reward")
    stop = False
    for epoch in epochs:
        model.head.train()
        perm = torch.randperm(len(y))
        sums = {"mse": 0.0, "pc": 0.0, "loss": 0.0}
        for batch, start in enumerate(range(0, len(perm), cfg.batch_size)):
            b_all = perm[start : start + cfg.batch_size]
            b, share = _rank_share(b_all, hooks)
            l_mse = rating_loss(model.head(img_e[b], txt_e[cand_idx[b, 0]]), y[b]) * share  # Eq. 1
            l_pc = torch.zeros(())
            g_all = b_all[good[b_all]]
            g, share_g = _rank_share(g_all, hooks)
            if cfg.pc_weight > 0 and len(g_all):
                scores = model.head(img_e[g, None].expand(-1, n, -1), txt_e[cand_idx[g]])  # (G, N)
                zeros = torch.zeros(len(g), dtype=torch.long)  # the true prompt is column 0
                l_pc = prompt_classification_loss(scores, zeros, cfg.temperature, cand_mask[g]) * share_g  # Eq. 2
            loss = l_mse + cfg.pc_weight * l_pc
            opt.zero_grad(set_to_none=True)
            loss.backward()
            hooks.average_gradients(list(model.head.parameters()))
            opt.step()
            w = len(b_all) / len(perm)
            sums["mse"] += w * l_mse.item()
            sums["pc"] += w * l_pc.item()
            sums["loss"] += w * loss.item()
            if batch + 1 < steps_per_epoch:  # mid-epoch: progress only, no resumable checkpoint
                done = epoch * steps_per_epoch + batch + 1
                if stop := hooks.after_step(StepInfo(done, cfg.epochs * steps_per_epoch, {"loss": loss.item()})):
                    break
        if stop:
            break
        row = {"epoch": epoch, **sums}
        if val_e is not None:
            model.head.eval()
            with torch.no_grad():
                row["val_accuracy"] = float(((model.head(val_e[0], val_e[1]) > 0.5) == val_e[2]).float().mean())
            if best is None or row["val_accuracy"] > best[0]:
                best = (row["val_accuracy"], copy.deepcopy(model.head.state_dict()))
        history.append(row)

        def save(folder: Path, epoch: int = epoch, best: tuple | None = best) -> None:
            _save(folder, epoch + 1, cfg, model, opt, best, history)

        metrics = {k: float(v) for k, v in row.items() if k != "epoch"}
        if hooks.after_step(StepInfo((epoch + 1) * steps_per_epoch, cfg.epochs * steps_per_epoch, metrics, save)):
            break
    if best is not None:
        model.head.load_state_dict(best[1])

    # 5. Normalization statistics and version.
    model.eval()
    with torch.no_grad():
        scores = model.head(img_e, txt_e[cand_idx[:, 0]])
    model.stats = {"mean": float(scores.mean()), "std": float(scores.std()) if len(scores) > 1 else 1.0}
    model.version = _head_version(model)
    model.metrics = {
        "num_labeled": len(y),
        "num_good": int(good.sum()),
        "num_skipped": len(labels) - len(keep),
        "train_accuracy": float(((scores > 0.5) == good).float().mean()),
        "final": history[-1],
        "best_val_accuracy": best[0] if best else None,
        "config": dataclasses.asdict(cfg),
    }
    return model
