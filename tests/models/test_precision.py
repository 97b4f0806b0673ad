"""The precision setting (models/precision.py): dtype selection on simulated machines, and what bf16 does to
images and reward embeddings on tiny random models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import UNet2DConditionModel

from t2ialign.models import precision as prec
from t2ialign.models.clip import ClipBackbone
from t2ialign.models.precision import Precision, cpu_flags, cpu_has_native_bf16, resolve_dtype
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import ToyPipeline, toy_unet_config, training_scheduler

torch.set_num_threads(1)
PROMPTS = ["a red circle", "two blue squares"]
# Measured on the tiny random UNet below (8 Euler-a / DPM-Solver++ steps, 4 images): bf16 vs fp32 differ by a
# mean of 0.8-1.0/255 per pixel channel, at most 11/255. The bounds leave 3x headroom.
MEAN_TOLERANCE, MAX_TOLERANCE = 3.0, 32


@pytest.fixture(scope="module")
def tiny_parts() -> tuple[UNet2DConditionModel, ClipBackbone]:
    torch.manual_seed(0)
    clip = ClipBackbone("t2ialign-tiny-test-clip").eval()
    torch.manual_seed(0)
    return UNet2DConditionModel(**toy_unet_config(clip.text_width, 32, tiny=True)), clip


def pipeline(parts, dtype: str, **kw) -> ToyPipeline:
    unet, clip = parts
    return ToyPipeline(unet, clip, dict(training_scheduler().config), Precision.resolve(dtype, **kw))


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\n")
    assert "avx512_bf16" in cpu_flags(info)
    assert cpu_has_native_bf16(cpu_flags(info))
    assert not cpu_has_native_bf16(frozenset({"fpu", "avx2", "avx512f"}))
    assert cpu_has_native_bf16(frozenset({"amx_bf16"}))
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_auto_picks_fp32_on_a_cpu_without_bf16_and_bf16_with_it():
    assert resolve_dtype("auto", "cpu", cpu_bf16=False) == torch.float32
    assert resolve_dtype("auto", "cpu", cpu_bf16=True) == torch.bfloat16
    assert resolve_dtype("float32", "cpu", cpu_bf16=True) == torch.float32
    assert resolve_dtype("bfloat16", "cpu", cpu_bf16=False) == torch.bfloat16  # explicit: emulated, allowed


def test_auto_without_bf16_flags_reads_proc_cpuinfo(monkeypatch):
    monkeypatch.setattr(prec, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset({"fpu", "avx2"}))
    assert resolve_dtype("auto", "cpu") == torch.float32
    monkeypatch.setattr(prec, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset({"fpu", "amx_bf16"}))
    assert resolve_dtype("auto", "cpu") == torch.bfloat16


def test_cuda_selection_with_the_capability_simulated():
    assert resolve_dtype("auto", "cuda", cuda_bf16=True) == torch.bfloat16
    assert resolve_dtype("auto", "cuda", cuda_bf16=False) == torch.float32
    assert resolve_dtype("float16", "cuda", cuda_bf16=False) == torch.float16
    with pytest.raises(ValueError, match="no bfloat16 support"):
        resolve_dtype("bfloat16", "cuda:0", cuda_bf16=False)
    p = Precision.resolve("float16", "cuda", cuda_bf16=True)
    assert (p.device_type, p.name, p.record()) == ("cuda", "float16", {"dtype": "float16", "channels_last": True})


def test_bad_settings_say_what_to_use():
    with pytest.raises(ValueError, match="CUDA only"):
        resolve_dtype("float16", "cpu")
    with pytest.raises(ValueError, match="use one of auto, float32, bfloat16, float16"):
        resolve_dtype("fp8", "cpu")


def test_the_package_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv(prec.DTYPE_ENV, "bfloat16")
    assert resolve_dtype(None, "cpu") == torch.bfloat16
    monkeypatch.setenv(prec.DTYPE_ENV, "float32")
    assert Precision.resolve(device="cpu").dtype == torch.float32
    monkeypatch.delenv(prec.DTYPE_ENV)
    assert prec.default_dtype_name() == prec.DEFAULT_DTYPE


def test_auto_on_a_cpu_without_bf16_generates_the_fp32_images(tiny_parts):
    auto = pipeline(tiny_parts, "auto", cpu_bf16=False)
    assert auto.precision.dtype == torch.float32
    kw = dict(num_images=2, seed=5, num_inference_steps=3)
    np.testing.assert_array_equal(auto(PROMPTS, **kw), pipeline(tiny_parts, "float32")(PROMPTS, **kw))


@pytest.mark.parametrize("sampler", ["euler-a", "dpm++"])
def test_bf16_images_agree_closely_with_fp32_and_repeat_exactly(tiny_parts, sampler):
    kw = dict(num_images=2, seed=3, num_inference_steps=8, sampler=sampler)
    fp32 = pipeline(tiny_parts, "float32")(PROMPTS, **kw).astype(int)
    bf16_pipe = pipeline(tiny_parts, "bfloat16")
    bf16 = bf16_pipe(PROMPTS, **kw).astype(int)
    np.testing.assert_array_equal(bf16, bf16_pipe(PROMPTS, **kw))  # same seed, same images
    diff = np.abs(fp32 - bf16)
    assert diff.mean() < MEAN_TOLERANCE and diff.max() <= MAX_TOLERANCE
    assert diff.any()  # bf16 really ran: the images are close, not identical


def test_channels_last_changes_layout_not_values(tiny_parts):
    unet, _ = tiny_parts
    x, t = torch.randn(2, 3, 32, 32), torch.tensor(10)
    states = torch.randn(2, 4, unet.config.cross_attention_dim)
    with torch.no_grad():
        ref = unet(x, t, encoder_hidden_states=states).sample
        cl = Precision(channels_last=True)
        out = cl.layout_module(unet)(cl.layout(x), t, encoder_hidden_states=states).sample
        Precision(channels_last=False).layout_module(unet)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_reward_embeddings_in_bf16_match_fp32(tiny_parts):
    _, clip = tiny_parts
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    fp32 = RewardModel(clip, precision=Precision.resolve("float32"))
    bf16 = RewardModel(clip, precision=Precision.resolve("bfloat16"))
    for a, b in zip(fp32.embed(images, PROMPTS * 2), bf16.embed(images, PROMPTS * 2), strict=True):
        assert b.dtype == torch.float32
        assert torch.nn.functional.cosine_similarity(a, b).min() > 0.99


def test_reward_score_encodes_each_prompt_once_and_matches_pairwise_scoring(tiny_parts):
    _, clip = tiny_parts
    images = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    prompts = ["a red circle", "two blue squares", "a red circle", "a red circle", "two blue squares", "a ring"]
    model = RewardModel(clip, precision=Precision.resolve("float32")).eval()
    with torch.no_grad():
        pairwise = model.head(*model.embed(images, prompts))
    torch.testing.assert_close(model.score(images, prompts, batch_size=4), pairwise, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="6 images but 5 prompts"):
        model.score(images, prompts[:5])
