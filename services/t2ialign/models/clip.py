"""CLIP backbones through open_clip: the toy CLIP (registered config) or any open_clip model (ViT-L-14).

A `ClipBackbone` plays both CLIP roles of the paper: the frozen text encoder of the generator
(`token_states`) and the frozen feature extractor of the reward model (`encode_images`, `encode_text`).
Weights load only from safetensors; nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import open_clip
import torch
from safetensors.torch import load_file, save_file

from t2ialign.common.manifest import verify_manifest, write_manifest

CONFIG_DIR = Path(__file__).parent / "clip_configs"
TOY_CLIP = "t2ialign-toy-clip"
WEIGHTS_FILE = "open_clip_model.safetensors"
CONFIG_FILE = "open_clip_config.json"
_registered = False


def register_configs() -> None:
    """Add our JSON architectures to open_clip's registry (idempotent)."""
    global _registered
    if not _registered:
        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


def list_models() -> list[str]:
    register_configs()
    return open_clip.list_models()


class _DropRandomInitWarning(logging.Filter):
    """Drops open_clip's "No pretrained weights loaded for model '<name>'" record, and only that one."""

    def __init__(self, model_name: str):
        super().__init__()
        self.message = f"No pretrained weights loaded for model '{model_name}'."

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and record.getMessage().startswith(self.message))


@contextmanager
def weights_follow(model_name: str) -> Iterator[None]:
    """Around `create_model(pretrained=None)` when weights are loaded right after: open_clip then warns (on the
    root logger) that the model is initialized randomly, which is true only for the moment before loading."""
    quiet = _DropRandomInitWarning(model_name)
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


class ClipBackbone(torch.nn.Module):
    """An open_clip model plus its offline tokenizer, with uint8-image preprocessing for small inputs."""

    def __init__(self, model_name: str = TOY_CLIP, model: torch.nn.Module | None = None):
        super().__init__()
        register_configs()
        if model_name not in open_clip.list_models():
            raise ValueError(f"open_clip config {model_name!r} not found; available: {', '.join(list_models())}")
        self.model_name = model_name
        self.model = model if model is not None else open_clip.create_model(model_name, pretrained=None)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        vision = self.model.visual
        self.image_size: int = int(vision.image_size[0] if isinstance(vision.image_size, tuple) else vision.image_size)
        self.register_buffer("mean", torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def context_length(self) -> int:
        return int(self.model.context_length)

    @property
    def text_width(self) -> int:
        return int(self.model.transformer.width)

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1])

    @property
    def device(self) -> torch.device:
        return self.model.logit_scale.device

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(prompts).to(self.device)  # (B, L) int64

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 or (B, 3, H, W) float in [-1, 1] -> normalized (B, 3, S, S) for the ViT."""
        if isinstance(images, np.ndarray):
            x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        else:
            x = (images.to(self.device).float() + 1) / 2
        if x.shape[-1] != self.image_size:
            x = torch.nn.functional.interpolate(x, size=self.image_size, mode="bicubic", align_corners=False)
        return (x - self.mean) / self.std

    def encode_images(self, images: np.ndarray | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.model.encode_image(self.preprocess(images), normalize=normalize)  # (B, D)

    def encode_text(self, prompts: list[str], normalize: bool = True) -> torch.Tensor:
        return self.model.encode_text(self.tokenize(prompts), normalize=normalize)  # (B, D)

    def token_states(self, prompts: list[str]) -> torch.Tensor:
        """Per-token hidden states of the text tower, (B, L, W): the generator's conditioning."""
        m = self.model
        tokens = self.tokenize(prompts)
        x = m.token_embedding(tokens) + m.positional_embedding  # (B, L, W)
        x = m.transformer(x, attn_mask=m.attn_mask)
        return m.ln_final(x)

    # Checkpoint I/O: safetensors + the open_clip config, verified against a sha256 manifest.
    def save(self, folder: str | Path, **metadata: object) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
        save_file(state, folder / WEIGHTS_FILE)
        cfg = open_clip.get_model_config(self.model_name)
        (folder / CONFIG_FILE).write_text(json.dumps({"model_name": self.model_name, "model_cfg": cfg}, indent=2))
        write_manifest(folder, kind="clip", model_name=self.model_name, **metadata)

    @classmethod
    def load(cls, folder: str | Path) -> ClipBackbone:
        folder = Path(folder)
        verify_manifest(folder)
        meta = json.loads((folder / CONFIG_FILE).read_text())
        register_configs()
        name = meta["model_name"]
        if name not in open_clip.list_models():
            open_clip.factory._MODEL_CONFIGS[name] = meta["model_cfg"]
        with weights_follow(name):
            backbone = cls(name)
        backbone.model.load_state_dict(load_file(folder / WEIGHTS_FILE))
        return backbone.eval()

    @classmethod
    def from_open_clip_file(cls, model_name: str, weights: str | Path) -> ClipBackbone:
        """Any open_clip architecture (e.g. ViT-L-14) with weights from a local .safetensors file."""
        weights = Path(weights)
        if weights.suffix != ".safetensors":
            raise ValueError(f"{weights}: only .safetensors weights are loaded (never pickles)")
        with weights_follow(model_name):
            backbone = cls(model_name)
        backbone.model.load_state_dict(load_file(weights))
        return backbone.eval()
