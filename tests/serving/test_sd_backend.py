"""The Stable Diffusion backend on tiny random components (diffusers-test style), loaded from an object-store
prefix, through the generator logic: seeds, storing, and the hot-swap (good and incompatible UNets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from diffusers import UNet2DConditionModel

from t2ialign.common.manifest import write_manifest
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.generator.logic import Generator, validate_params
from t2ialign.models.sd_pipeline import offline_clip_tokenizer, tiny_stable_diffusion
from t2ialign.models.toy_pipeline import toy_unet_config
from t2ialign.store import LocalStore, model_prefix, upload_folder


def test_offline_tokenizer_matches_open_clip(tmp_path: Path) -> None:
    tok = offline_clip_tokenizer(tmp_path / "tok")
    for prompt in ["a red circle", "Two BLUE squares, left of 3 triangles!"]:
        ours = tok(prompt).input_ids
        ref = open_clip.tokenize([prompt])[0].tolist()
        assert ours == ref[: len(ours)] and ref[len(ours)] == 0


def publish_unet(store: LocalStore, unet: UNet2DConditionModel, version: str, work: Path) -> None:
    folder = work / version
    unet.save_pretrained(str(folder), safe_serialization=True)
    write_manifest(folder, kind="unet", version=version)
    upload_folder(store, folder, model_prefix("unet", version))


@pytest.fixture(scope="module")
def sd_generator(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    root = tmp_path_factory.mktemp("sd")
    store = LocalStore(root / "store")
    backend = tiny_stable_diffusion(root / "tokenizer")
    backend.save(root / "sd", version="sd-tiny-base")
    upload_folder(store, root / "sd", "models/base/sd-tiny/")
    torch.manual_seed(1)
    publish_unet(store, UNet2DConditionModel.from_config(backend.unet.config), "sd-ft-1", root)
    toy = UNet2DConditionModel(**toy_unet_config(32, 32, tiny=True))  # a UNet of another base model
    publish_unet(store, toy, "toy-unet", root)
    cfg = GeneratorServiceConfig(
        backend="sd",
        model="store:models/base/sd-tiny/",
        store_url=str(root / "store"),
        default_num_inference_steps=2,
        default_guidance_scale=7.5,
    )
    return Generator.from_config(cfg)


def test_sd_backend_generates_deterministically_and_stores(sd_generator: Generator) -> None:
    info = sd_generator.model_info()
    assert info["backend"] == "sd" and info["resolution"] == 64 and info["unet"]["version"] == "sd-tiny-base"
    p = validate_params({"prompt": "a red circle", "num_images": 2, "seed": 3}, sd_generator.cfg)
    a, served = sd_generator.generate_images(p)
    b, _ = sd_generator.generate_images(p)
    assert a.shape == (2, 64, 64, 3) and a.dtype == np.uint8 and (a == b).all()
    records = sd_generator.store_images(a, [1, 0], p, served, [0.1, 0.2], [0.0, 1.0], "rw")
    assert [r["index"] for r in records] == [1, 0] and records[0]["unet_version"] == "sd-tiny-base"
    assert sd_generator.store.exists(records[0]["key"])


def test_sd_hot_swap_and_refused_incompatible_unet(sd_generator: Generator) -> None:
    p = validate_params({"prompt": "a red circle", "num_images": 1, "seed": 5}, sd_generator.cfg)
    before, _ = sd_generator.generate_images(p)
    r = sd_generator.load_unet("sd-ft-1")
    assert r["swapped"] and r["serving"]["version"] == "sd-ft-1", r["error"]
    after, served = sd_generator.generate_images(p)
    assert served.version == "sd-ft-1" and (after != before).any()
    r = sd_generator.load_unet("toy-unet")
    assert not r["swapped"] and "in_channels" in r["error"] and r["serving"]["version"] == "sd-ft-1"
    again, served = sd_generator.generate_images(p)
    assert served.version == "sd-ft-1" and (again == after).all()
