"""Reward scoring without Ray: load the serving checkpoint, decode and validate images, score.

The reward model is r_phi(x, z) of Lee et al. 2023 (section 3.2), a frozen CLIP plus an MLP head
(t2ialign.models.reward). Scores are raw r_phi; `normalized` uses the checkpoint's calibration statistics.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from t2ialign.models.clip import ClipBackbone
from t2ialign.models.precision import Precision
from t2ialign.models.reward import RewardModel
from t2ialign.reward.config import UNTRAINED, RewardServiceConfig
from t2ialign.serving import storage
from t2ialign.serving.errors import InvalidArgument, check
from t2ialign.serving.images import decode_image
from t2ialign.serving.limits import MAX_SCORE_IMAGES
from t2ialign.serving.requests import ImageInput
from t2ialign.store import ObjectStore, get_pointer, model_prefix

log = logging.getLogger("t2ialign.reward")


def load_reward_model(cfg: RewardServiceConfig, store: ObjectStore, work_dir: Path) -> RewardModel:
    """The checkpoint named by the serving pointer; if the pointer is unset, `cfg.model` (by default the shipped
    r_phi), or a seeded random head only when `cfg.model` is "untrained"."""
    backbone = ClipBackbone.load(storage.resolve_folder(store, cfg.clip, work_dir)).to(
        storage.resolve_device(cfg.device)
    )
    version = get_pointer(store, cfg.pointer)
    if version is not None:
        source = storage.STORE_SCHEME + model_prefix("reward", version)
    elif cfg.model == UNTRAINED:
        log.warning("pointer %r is unset and model is %r: serving a random reward head", cfg.pointer, UNTRAINED)
        torch.manual_seed(cfg.head_seed)
        precision = Precision.resolve(cfg.dtype, backbone.device)
        return RewardModel(backbone, version=UNTRAINED, precision=precision).to(backbone.device).eval()
    else:
        source = cfg.model
        log.info("pointer %r is unset; serving %s", cfg.pointer, source)
    return RewardModel.load(storage.resolve_folder(store, source, work_dir), backbone, cfg.dtype).to(backbone.device)


class RewardScorer:
    """Validated, batched scoring with one reward model."""

    def __init__(self, model: RewardModel, store: ObjectStore | None = None):
        self.model = model.eval()
        self.store = store

    @classmethod
    def from_config(cls, cfg: RewardServiceConfig) -> RewardScorer:
        torch.set_num_threads(cfg.torch_threads)
        store = storage.connect(cfg.store_url)
        work_dir = Path(tempfile.mkdtemp(prefix="t2ialign-reward-"))
        return cls(load_reward_model(cfg, store, work_dir), store)

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def image_size(self) -> int:
        return self.model.backbone.image_size

    def load_images(self, images: list[ImageInput]) -> np.ndarray:
        """Decode and resize to the backbone's input size: (N, S, S, 3) uint8. Raises InvalidArgument/NotFound."""
        check(len(images) > 0, "no images; send 1..256 images (PNG/JPEG bytes or object-store keys)")
        check(len(images) <= MAX_SCORE_IMAGES, f"got {len(images)} images; the limit is {MAX_SCORE_IMAGES} per call")
        out = []
        for i, img in enumerate(images):
            what = f"image {i}"
            if img.key and img.data:
                raise InvalidArgument(f"{what} has both a key and bytes; send one of them")
            if img.key:
                data = self._get(img.key, what)
                out.append(decode_image(data, self.image_size, f"{what} ({img.key!r})"))
            else:
                out.append(decode_image(img.data, self.image_size, what))
        return np.stack(out)

    def _get(self, key: str, what: str) -> bytes:
        store = self.store
        if store is None:
            raise InvalidArgument(f"{what}: this reward service has no object store; send bytes")
        return storage.store_call(lambda: store.get_bytes(key), f"{what} ({key!r})")

    @torch.no_grad()
    def score(self, images: np.ndarray, prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw and normalized r_phi for already-validated inputs: images (B, H, W, 3) uint8, prompts (B,).

        Same as RewardModel.score, but each distinct prompt of the batch is encoded once (a batch usually
        holds many images of few prompts: best-of-n, ranking)."""
        unique, inverse = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
        text = self.model.embed_texts([str(p) for p in unique])
        text = text[torch.from_numpy(inverse).to(text.device)]  # (B, D)
        raw = self.model(self.model.embed_images(images), text)  # (B,)
        return raw.float().cpu().numpy(), self.model.normalize(raw).float().cpu().numpy()
