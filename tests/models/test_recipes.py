"""Smoke tests of the base-model recipes on tiny configs: they train, export, resume and reload."""

import json

import numpy as np
import pytest

from t2ialign.common.manifest import ManifestError, verify_manifest
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.training.clip_pretrain import ClipTrainConfig, train_clip
from t2ialign.training.generator_pretrain import GeneratorTrainConfig, train_generator


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    cfg = ClipTrainConfig(model_name="t2ialign-tiny-test-clip", steps=3, batch_size=8, checkpoint_every=2)
    clip = train_clip(cfg, root / "clip")
    gcfg = GeneratorTrainConfig(steps=3, batch_size=4, tiny=True, checkpoint_every=2)
    train_generator(gcfg, clip, root / "generator")
    return root


def test_clip_recipe_exports_a_verified_checkpoint(tiny_world):
    manifest = verify_manifest(tiny_world / "clip")
    assert manifest["steps"] == 3 and "open_clip_model.safetensors" in manifest["files"]
    clip = ClipBackbone.load(tiny_world / "clip")
    emb = clip.encode_text(["two red circles", "a blue square"])
    assert emb.shape == (2, clip.embed_dim)


def test_recipe_resumes_and_refuses_a_changed_config(tiny_world, tmp_path):
    cfg = ClipTrainConfig(model_name="t2ialign-tiny-test-clip", steps=2, batch_size=8, checkpoint_every=1)
    train_clip(cfg, tmp_path / "clip")
    cfg.steps = 4
    with pytest.raises(ValueError, match="another config"):
        train_clip(cfg, tmp_path / "clip", resume=True)
    cfg.steps, cfg.batch_size = 2, 8
    train_clip(cfg, tmp_path / "clip", resume=True)  # already at step 2: exports again without training
    assert json.loads((tmp_path / "clip-checkpoint" / "state.json").read_text())["step"] == 3


def test_generator_recipe_exports_diffusers_format(tiny_world):
    gen = tiny_world / "generator"
    verify_manifest(gen)
    assert (gen / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert json.loads((gen / "scheduler" / "scheduler_config.json").read_text())["beta_schedule"] == "squaredcos_cap_v2"
    pipe = ToyPipeline.load(gen)
    a = pipe("two red circles", num_images=2, seed=3, num_inference_steps=2)
    b = pipe("two red circles", num_images=2, seed=3, num_inference_steps=2)
    c = pipe("two red circles", num_images=2, seed=4, num_inference_steps=2)
    assert a.shape == (2, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_corrupt_checkpoint_is_refused(tiny_world, tmp_path):
    import shutil

    gen = shutil.copytree(tiny_world / "generator", tmp_path / "generator")
    shutil.copytree(tiny_world / "clip", tmp_path / "clip")
    weights = gen / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="does not match"):
        ToyPipeline.load(gen)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": ""}, "non-empty"),
        ({"num_images": 0}, "num_images"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"sampler": "euler"}, "unknown sampler"),
    ],
)
def test_pipeline_validates_inputs(tiny_world, kwargs, match):
    pipe = ToyPipeline.load(tiny_world / "generator")
    args = {"prompt": "a red circle", "num_inference_steps": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        pipe(**args)


def test_every_sampler_runs_and_the_cli_offers_the_same_ones(tiny_world):
    from t2ialign.cli.common import SAMPLERS as CLI_SAMPLERS
    from t2ialign.models.toy_pipeline import SAMPLERS

    assert CLI_SAMPLERS == SAMPLERS
    pipe = ToyPipeline.load(tiny_world / "generator")
    assert pipe.default_sampler == "euler-a"  # the recipe trains v-prediction
    for kind in SAMPLERS:
        images = pipe("a red circle", num_images=2, num_inference_steps=3, sampler=kind)
        assert images.shape == (2, 32, 32, 3)


def test_generator_recipe_warm_starts_from_a_saved_unet(tiny_world, tmp_path):
    import torch

    from t2ialign.common.manifest import read_manifest, sha256_file
    from t2ialign.models.toy_pipeline import UNET_WEIGHTS, load_unet

    cfg = GeneratorTrainConfig(steps=1, batch_size=2, tiny=True, lr=0.0)
    clip = ClipBackbone.load(tiny_world / "clip")
    init = tiny_world / "generator" / "unet"
    train_generator(cfg, clip, tmp_path / "generator", init_from=init)
    before, after = load_unet(init).state_dict(), load_unet(tmp_path / "generator" / "unet").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    manifest = read_manifest(tmp_path / "generator")  # names the init's weights by hash, not only by path
    assert manifest["init_sha256"] == sha256_file(init / UNET_WEIGHTS) and manifest["init_from"] == str(init)


def test_warm_start_from_a_unet_without_the_pooled_text_embedding_changes_nothing_at_first(tmp_path):
    import torch
    from diffusers import UNet2DConditionModel

    from t2ialign.models.toy_pipeline import toy_unet_config
    from t2ialign.training.generator_pretrain import warm_start

    old_config = {k: v for k, v in toy_unet_config(32, 32, tiny=True).items() if not k.startswith("addition_")}
    old = UNet2DConditionModel(**old_config).eval()
    old.save_pretrained(tmp_path / "old", safe_serialization=True)
    new = UNet2DConditionModel(**toy_unet_config(32, 32, tiny=True)).eval()
    missing = warm_start(new, tmp_path / "old")
    assert missing and all(k.startswith("add_embedding.") for k in missing)
    x, states, t = torch.randn(2, 3, 32, 32), torch.randn(2, 16, 32), torch.tensor([5, 990])
    with torch.no_grad():
        before = old(x, t, encoder_hidden_states=states).sample
        assert torch.equal(new(x, t, encoder_hidden_states=states).sample, before)
    other = UNet2DConditionModel(**(toy_unet_config(32, 32, tiny=True) | {"block_out_channels": (8, 16, 32)}))
    other.save_pretrained(tmp_path / "other", safe_serialization=True)
    with pytest.raises((ValueError, RuntimeError)):
        warm_start(new, tmp_path / "other")


def test_learning_rate_warms_up_then_decays_to_the_floor():
    from t2ialign.training.generator_pretrain import learning_rate

    cfg = GeneratorTrainConfig(steps=1000, warmup=100, lr=1e-3, final_lr_fraction=0.1)
    lrs = [learning_rate(cfg, s) for s in range(1000)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[99] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[99:], lrs[100:], strict=False))  # non-increasing after warm-up
    assert learning_rate(cfg, 1000) == pytest.approx(1e-4) and learning_rate(cfg, 5000) == pytest.approx(1e-4)


def test_v_prediction_target_is_alpha_eps_minus_sigma_x0():
    import torch

    from t2ialign.models.toy_pipeline import denoising_target, training_scheduler

    sched = training_scheduler()
    x0, noise, t = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4), torch.tensor([0, 500, 999])
    abar = sched.alphas_cumprod[t].view(-1, 1, 1, 1)
    expected = abar.sqrt() * noise - (1 - abar).sqrt() * x0
    assert torch.allclose(denoising_target(sched, x0, noise, t), expected, atol=1e-6)
    assert torch.equal(denoising_target(training_scheduler("epsilon"), x0, noise, t), noise)


def test_reward_recipe_exports_resumes_and_stops_on_its_time_budget(tiny_world, tmp_path):
    from t2ialign.models.reward import RewardModel
    from t2ialign.training.reward_pretrain import load_pool, pool_dir, pretrain_reward, tiny_config

    pipe = ToyPipeline.load(tiny_world / "generator")
    cfg, out = tiny_config(), tmp_path / "reward"
    # A zero budget stops after the first chunk, then trains and exports on what is there.
    pretrain_reward(cfg, pipe, tiny_world / "generator", out, max_minutes=0)
    first = load_pool(pool_dir(out))
    assert len(first["labels"]) == cfg.prompts_per_chunk * cfg.images_per_prompt
    manifest = verify_manifest(out)
    assert manifest["pool"]["chunks_done"] == 1 < manifest["pool"]["chunks_total"]
    with pytest.raises(ValueError, match="--resume"):
        pretrain_reward(cfg, pipe, tiny_world / "generator", out)  # never silently redraws a pool
    pretrain_reward(cfg, pipe, tiny_world / "generator", out, resume=True, max_minutes=0)  # retrains, draws nothing
    assert len(load_pool(pool_dir(out))["labels"]) == len(first["labels"])
    pretrain_reward(cfg, pipe, tiny_world / "generator", out, resume=True)
    pool = load_pool(pool_dir(out))
    assert np.array_equal(pool["images"][: len(first["images"])], first["images"])  # continued, not redrawn
    assert verify_manifest(out)["pool"]["chunks_done"] == manifest["pool"]["chunks_total"]
    model = RewardModel.load(out, pipe.text_encoder)
    assert model.version.startswith("reward-") and model.score(pool["images"][:2], ["a red circle"] * 2).shape == (2,)
    cfg.images_per_prompt = 4
    with pytest.raises(ValueError, match="another config"):
        pretrain_reward(cfg, pipe, tiny_world / "generator", out, resume=True)
