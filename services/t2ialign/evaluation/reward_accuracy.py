"""Reward-model accuracy against the oracle (Lee et al. 2023, §4.2: "predicts human judgments better than
CLIP score, and L_pc helps"), on held-out generated images of seen and unseen prompts.

Each scorer becomes a good/bad classifier by one threshold. r_phi (with and without L_pc) regresses the
label y in {0, 1} (Eq. 1), so its own threshold is 0.5. CLIP score (the cosine similarity of the toy-CLIP
image and text embeddings) has no natural threshold: it gets the one that maximizes accuracy on the training
set (the raters' labels of the feedback images). Accuracy is then measured against the oracle on generated
images that none of them trained on. AUC (threshold-free) is reported beside it,
and so is the accuracy of always answering the training set's majority label, since a split where most
images are bad makes a high accuracy cheap.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
import torch

from t2ialign.models.clip import ClipBackbone
from t2ialign.toyworld.grammar import CATEGORIES, max_count, perturb, sample_prompt
from t2ialign.toyworld.render import render


def fit_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold t maximizing accuracy of (score > t) on labeled data (midpoints between sorted scores)."""
    if len(scores) != len(labels) or len(scores) == 0:
        raise ValueError(f"need as many labels as scores (and at least one), got {len(scores)} and {len(labels)}")
    s = np.sort(np.unique(scores))
    candidates = np.concatenate([[s[0] - 1.0], (s[:-1] + s[1:]) / 2, [s[-1] + 1.0]])
    pred = scores[None, :] > candidates[:, None]  # (C, N)
    acc = (pred == labels.astype(bool)[None, :]).mean(1)
    return float(candidates[int(acc.argmax())])


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(((scores > threshold) == labels.astype(bool)).mean()) if len(labels) else float("nan")


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a good image > score of a bad one), ties count half."""
    labels = labels.astype(bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


@torch.no_grad()
def clip_scores(clip: ClipBackbone, images: np.ndarray, prompts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """CLIP score: cosine similarity of unit-norm image and text embeddings, (N,) for (N, H, W, 3) images."""
    out = []
    for i in range(0, len(images), batch_size):
        img = clip.encode_images(images[i : i + batch_size])
        txt = clip.encode_text(list(prompts[i : i + batch_size]))
        out.append((img * txt).sum(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _r(x: float) -> float:
    return round(x, 4) if np.isfinite(x) else float("nan")


def reward_accuracy(
    train_scores: dict[str, np.ndarray],
    train_labels: np.ndarray,
    test_scores: dict[str, np.ndarray],
    test_labels: np.ndarray,
    test_splits: Sequence[str],
    test_categories: Sequence[str],
    fixed_thresholds: dict[str, float] | None = None,
) -> dict:
    """Per scorer: threshold (given in `fixed_thresholds`, else fit on train), accuracy/AUC per split and category.

    train_scores/test_scores map a scorer name to its (N,) scores; labels are 0/1 (skips removed already).
    Returns {"thresholds": {...}, split: {scorer: {"accuracy", "auc", "by_category": {...}}, "majority": r, "n": n}}.
    """
    train_labels, test_labels = np.asarray(train_labels, int), np.asarray(test_labels, int)
    splits, cats = np.asarray(test_splits), np.asarray(test_categories)
    majority = int(train_labels.mean() >= 0.5)
    fixed = fixed_thresholds or {}
    missing = set(test_scores) - set(train_scores) - set(fixed)
    if missing:
        raise ValueError(f"scorers {sorted(missing)} have test scores but neither training scores nor a threshold")
    thresholds = {
        name: fixed[name] if name in fixed else fit_threshold(train_scores[name], train_labels) for name in test_scores
    }
    result: dict = {"thresholds": {k: round(v, 6) for k, v in thresholds.items()}}
    for split in dict.fromkeys(splits.tolist()):
        m = splits == split
        block: dict = {
            "n": int(m.sum()),
            "good_share": _r(float(test_labels[m].mean())),
            "majority": _r(float((test_labels[m] == majority).mean())),
        }
        for name, scores in test_scores.items():
            s, y = scores[m], test_labels[m]
            by_cat = {
                c: _r(accuracy(s[cats[m] == c], y[cats[m] == c], thresholds[name]))
                for c in dict.fromkeys(cats[m].tolist())
            }
            block[name] = {
                "accuracy": _r(accuracy(s, y, thresholds[name])),
                "auc": _r(auc(s, y)),
                "by_category": by_cat,
            }
        result[split] = block
    return result


def mismatch_pairs(n: int, objects: Sequence[str], seed: int = 0, size: int = 32) -> dict[str, list]:
    """n clean-render pairs for the ranking check of issue 17: a prompt (categories in turn, over `objects`),
    a render of it, and a render with the same seed of the prompt with one stated attribute swapped (count,
    color, object or background; grammar.perturb, any object). Both images are scored against the prompt.

    Returns {"prompts": [str], "matching": [(size, size, 3) uint8], "mismatching": [...], "swapped": [attribute]}.
    """
    rng, most = random.Random(seed), max_count(size)
    out: dict[str, list] = {"prompts": [], "matching": [], "mismatching": [], "swapped": []}
    for i in range(n):
        spec = sample_prompt(rng, CATEGORIES[i % len(CATEGORIES)], tuple(objects), most)
        attribute = rng.choice(spec.present_attributes)
        other = perturb(spec, attribute, rng, max_objects=most)
        out["prompts"].append(spec.text)
        out["matching"].append(render(spec, seed * 100_003 + i, size))
        out["mismatching"].append(render(other, seed * 100_003 + i, size))
        out["swapped"].append(attribute)
    return out


def pair_accuracy(score: Callable[[np.ndarray, list[str]], np.ndarray], pairs: dict[str, list]) -> dict[str, object]:
    """Share of pairs where `score(images, prompts)` ranks the matching render above the mismatching one
    (ties count half), overall and by swapped attribute."""
    prompts = pairs["prompts"]
    good = np.asarray(score(np.stack(pairs["matching"]), prompts))
    bad = np.asarray(score(np.stack(pairs["mismatching"]), prompts))
    won = (good > bad) + 0.5 * (good == bad)
    swapped = np.array(pairs["swapped"])
    by = {a: _r(float(won[swapped == a].mean())) for a in dict.fromkeys(pairs["swapped"])}
    return {"accuracy": _r(float(won.mean())), "n": len(prompts), "by_attribute": by}
