"""Loading the toy world's generator from folders: the base pipeline, or a fine-tuned UNet inside it."""

from __future__ import annotations

from pathlib import Path

from t2ialign.models.clip import ClipBackbone
from t2ialign.models.toy_pipeline import ToyPipeline, load_unet
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR


def load_base_models(
    clip_dir: str | Path = DEFAULT_CLIP, generator_dir: str | Path = DEFAULT_GENERATOR, device: str = "cpu"
) -> ToyPipeline:
    """The toy CLIP and the base generator built on it (pipe.text_encoder is the CLIP); a clear error if absent."""
    for what, folder in (("CLIP", clip_dir), ("generator", generator_dir)):
        if not (Path(folder) / "manifest.json").is_file():
            raise FileNotFoundError(
                f"{what} folder {folder} has no manifest.json; train it with "
                f"`t2ialign pretrain {what.lower()}` or pass --{what.lower()} DIR"
            )
    return ToyPipeline.load(generator_dir, clip=ClipBackbone.load(clip_dir), device=device)


def load_generator(model: str | Path = "base", device: str = "cpu", dtype: str | None = None) -> ToyPipeline:
    """'base' -> the shipped toy pipeline; a pipeline folder; or a UNet folder swapped into the base pipeline.
    `dtype` as in models/precision.py (None = the package default)."""
    if str(model) == "base":
        return ToyPipeline.load(DEFAULT_GENERATOR, clip=DEFAULT_CLIP, device=device, dtype=dtype)
    path = Path(model)
    if (path / "unet").is_dir():
        clip = DEFAULT_CLIP if not (path.parent / "clip").is_dir() else None
        return ToyPipeline.load(path, clip=clip, device=device, dtype=dtype)
    if (path / "config.json").is_file():
        base = ToyPipeline.load(DEFAULT_GENERATOR, clip=DEFAULT_CLIP, device=device, dtype=dtype)
        return base.with_unet(load_unet(path, device))
    raise FileNotFoundError(f"{model}: expected 'base', a pipeline folder (with unet/) or a UNet folder")
