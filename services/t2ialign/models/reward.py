"""Reward model r_phi(x, z) of Lee et al. 2023 (§3.2): frozen CLIP image and text embeddings, concatenated,
into a two-layer MLP with a scalar output. Trained by training/reward_train.py (Eq. 1 + lambda * Eq. 2).

A checkpoint folder holds `head.safetensors` (the MLP only; the backbone is referenced by name and
folder), `reward_config.json`, and a manifest with the score-normalization statistics, so that thresholds
on normalized scores mean "standard deviations above the mean score of the calibration set".
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from t2ialign.common.manifest import read_manifest, verify_manifest, write_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.precision import Precision

HEAD_FILE = "head.safetensors"
CONFIG_FILE = "reward_config.json"


@dataclass
class RewardConfig:
    hidden: int = 1024  # paper: two-layer MLP with 1,024 hidden units
    dropout: float = 0.1  # small data: a little dropout keeps the head from memorising raters' flips
    backbone: str = "t2ialign-toy-clip"  # open_clip config name of the frozen backbone
    # Not in the paper: also feed image_emb * text_emb (unit-norm embeddings, so its sum is CLIP score). An MLP on
    # the plain concatenation has to build every image-text interaction from its GELUs (docs/REWARD_MODEL.md).
    product_features: bool = False
    # Not in the paper: add a linear term w . (image_emb * text_emb) to the MLP's output, a learned,
    # per-dimension CLIP score (w = 1 would be CLIP score). It starts at zero, so training begins at the MLP alone.
    product_skip: bool = False


class RewardHead(torch.nn.Module):
    """MLP over concat(image_emb, text_emb[, image_emb * text_emb]) -> scalar[, + w . (image_emb * text_emb)]."""

    def __init__(self, embed_dim: int, cfg: RewardConfig):
        super().__init__()
        self.product_features = cfg.product_features
        self.net = torch.nn.Sequential(
            torch.nn.Linear((3 if cfg.product_features else 2) * embed_dim, cfg.hidden),
            torch.nn.GELU(),
            torch.nn.Dropout(cfg.dropout),
            torch.nn.Linear(cfg.hidden, 1),
        )
        self.skip = torch.nn.Linear(embed_dim, 1, bias=False) if cfg.product_skip else None
        if self.skip is not None:
            torch.nn.init.zeros_(self.skip.weight)

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        product = image_emb * text_emb if self.product_features or self.skip is not None else None
        parts = [image_emb, text_emb, product] if self.product_features else [image_emb, text_emb]
        out = self.net(torch.cat(parts, dim=-1)).squeeze(-1)  # (B,)
        return out if self.skip is None else out + self.skip(product).squeeze(-1)


class RewardModel(torch.nn.Module):
    """r_phi(x, z). `score` gives raw scores; `normalize` maps them with the calibration statistics.

    The frozen CLIP forward runs in `precision` (models/precision.py; default: the package's); the head in fp32.
    """

    def __init__(
        self,
        backbone: ClipBackbone,
        cfg: RewardConfig | None = None,
        version: str = "untrained",
        stats: dict[str, float] | None = None,
        precision: Precision | None = None,
    ):
        super().__init__()
        self.precision = precision or Precision.resolve(device=backbone.device)
        self.cfg = cfg or RewardConfig(backbone=backbone.model_name)
        self.backbone = backbone.eval().requires_grad_(False)
        self.head = RewardHead(backbone.embed_dim, self.cfg)
        self.version = version
        self.stats = stats or {"mean": 0.0, "std": 1.0}
        self.metrics: dict[str, object] = {}  # training summary (reward_train.py); saved in the manifest

    @torch.no_grad()
    def embed(self, images: np.ndarray | torch.Tensor, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen CLIP embeddings: images (B, H, W, 3) uint8 or (B, 3, H, W) in [-1, 1]; prompts (B,)."""
        if len(images) != len(prompts):
            raise ValueError(f"got {len(images)} images but {len(prompts)} prompts")
        return self.embed_images(images), self.embed_texts(prompts)

    @torch.no_grad()
    def embed_images(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frozen CLIP image embeddings (B, D) in float32."""
        with self.precision.autocast():
            return self.backbone.encode_images(images).float()

    @torch.no_grad()
    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        """Frozen CLIP text embeddings (B, D) in float32."""
        with self.precision.autocast():
            return self.backbone.encode_text(prompts).float()

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        return self.head(image_emb, text_emb)

    @torch.no_grad()
    def score(self, images: np.ndarray | torch.Tensor, prompts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Raw r_phi(x, z) for each (image, prompt) pair, shape (B,). Each distinct prompt of a batch is encoded
        once (pools hold several images per prompt)."""
        if len(images) != len(prompts):
            raise ValueError(f"got {len(images)} images but {len(prompts)} prompts")
        self.eval()
        out = []
        for i in range(0, len(images), batch_size):
            unique, inverse = np.unique(np.asarray(prompts[i : i + batch_size], dtype=object), return_inverse=True)
            txt_e = self.embed_texts([str(p) for p in unique])[torch.from_numpy(inverse.reshape(-1))]
            out.append(self.head(self.embed_images(images[i : i + batch_size]), txt_e))
        return torch.cat(out) if out else torch.zeros(0)

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        return (scores - self.stats["mean"]) / max(self.stats["std"], 1e-6)

    def save(self, folder: str | Path, **metadata: object) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.head.state_dict().items()}, folder / HEAD_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(self.cfg), indent=2))
        if self.metrics and "metrics" not in metadata:
            metadata["metrics"] = self.metrics
        metadata.setdefault("precision", self.precision.record())
        write_manifest(folder, kind="reward", version=self.version, normalization=self.stats, **metadata)

    @classmethod
    def load(cls, folder: str | Path, backbone: ClipBackbone, dtype: str | None = None) -> RewardModel:
        """Load a head saved by `save` onto an already-loaded frozen backbone (verified by sha256 first);
        `dtype` as in models/precision.py (None = the package default)."""
        folder = Path(folder)
        verify_manifest(folder)
        manifest = read_manifest(folder)
        cfg = RewardConfig(**json.loads((folder / CONFIG_FILE).read_text()))
        if cfg.backbone != backbone.model_name:
            raise ValueError(f"reward head {folder} was trained on {cfg.backbone!r}, not {backbone.model_name!r}")
        version = str(manifest.get("version", folder.name))
        precision = Precision.resolve(dtype, backbone.device)
        model = cls(backbone, cfg, version=version, stats=manifest["normalization"], precision=precision)
        model.head.load_state_dict(load_file(folder / HEAD_FILE))
        model.metrics = manifest.get("metrics", {})
        return model.eval()
