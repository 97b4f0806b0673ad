"""Fidelity and diversity in the toy-CLIP image-embedding space (docs/METHOD.md, "What is measured").

- Fidelity: the Fréchet distance (the formula of FID, Heusel et al. 2017) between Gaussians fit to the
  embeddings of generated images and of clean renders of the same prompts. Lower is better; the paper
  measured FID on MS-COCO, we measure against the toy world's exact renders.
- Diversity: the mean pairwise Euclidean distance among the (unit-norm) embeddings of one prompt's images,
  averaged over prompts. 0 when every image of a prompt is the same.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from t2ialign.models.clip import ClipBackbone
from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.render import render


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) for (N, D) feature sets."""
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"expected (N, D) features of the same D, got {feats_a.shape} and {feats_b.shape}")
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError("each feature set needs at least 2 samples for a covariance")
    a, b = feats_a.astype(np.float64), feats_b.astype(np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # singular product: regularize, as the reference FID code does
        eps = np.eye(a.shape[1]) * 1e-6
        covmean = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    fd = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))
    return max(fd, 0.0)  # round-off can leave a tiny negative for identical sets


@torch.no_grad()
def pooled_frechet_distance(emb: np.ndarray, ref: np.ndarray) -> float:
    """Fréchet distance between (..., D) generated and reference embeddings, pooled over every leading axis."""
    return frechet_distance(emb.reshape(-1, emb.shape[-1]), ref.reshape(-1, ref.shape[-1]))


def image_embeddings(clip: ClipBackbone, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Unit-norm toy-CLIP image embeddings: (..., H, W, 3) uint8 -> (..., D) float32."""
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    out = [clip.encode_images(flat[i : i + batch_size]).cpu().numpy() for i in range(0, len(flat), batch_size)]
    return np.concatenate(out).astype(np.float32).reshape(*lead, -1)


def clean_renders(prompts: list[PromptSpec], per_prompt: int, seed: int = 0, size: int = 32) -> np.ndarray:
    """(P, K, H, W, 3) exact renders of each prompt: the reference set for the Fréchet distance."""
    return np.stack(
        [
            np.stack([render(p, seed=seed + 1000 * i + k, size=size) for k in range(per_prompt)])
            for i, p in enumerate(prompts)
        ]
    )


def diversity(embeddings: np.ndarray) -> float:
    """Mean pairwise distance among one prompt's embeddings, averaged over prompts; embeddings (P, K, D)."""
    if embeddings.ndim != 3 or embeddings.shape[1] < 2:
        raise ValueError(f"expected (P, K, D) embeddings with K >= 2, got {embeddings.shape}")
    diff = embeddings[:, :, None, :] - embeddings[:, None, :, :]  # (P, K, K, D)
    dist = np.sqrt((diff**2).sum(-1))  # (P, K, K)
    k = embeddings.shape[1]
    return float((dist.sum((1, 2)) / (k * (k - 1))).mean())
