"""Reward-weighted fine-tuning (Eq. 3): what trains, what stays frozen, and the exported checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t2ialign.common.manifest import read_manifest, verify_manifest
from t2ialign.models.toy_pipeline import load_unet, training_scheduler
from t2ialign.training.feedback import FeedbackSet
from t2ialign.training.finetune import (
    FinetuneConfig,
    add_lora,
    finetune_loss,
    finetune_unet,
    merge_lora,
    save_unet,
    weights_digest,
)


def _data(n: int = 6) -> FeedbackSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    prompts = ["a red circle", "two squares", "a ring in the snow"] * (n // 3)
    labels = [1, 0, None, 1, 1, 0][:n]
    return FeedbackSet(images, prompts, labels, [f"i{i}" for i in range(n)], "r1")


def _backward_once(pipe, unet) -> None:
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    states = pipe.text_encoder.token_states(["a red circle", "two squares"])  # grad-enabled text tower
    loss, _ = finetune_loss(unet, training_scheduler(), x[:1], states[:1], torch.ones(1), x[1:], states[1:], 1.0)
    loss.backward()


def test_gradients_reach_only_the_unet(tiny_pipe) -> None:
    import copy

    unet = copy.deepcopy(tiny_pipe.unet).train().requires_grad_(True)
    _backward_once(tiny_pipe, unet)
    assert all(p.grad is None for p in tiny_pipe.text_encoder.parameters())
    grads = [p.grad for p in unet.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_lora_trains_only_lora_params_and_merges(tiny_pipe) -> None:
    import copy

    unet = copy.deepcopy(tiny_pipe.unet)
    params = add_lora(unet, rank=4)
    # Make the adapters non-trivial so that merging is visible.
    with torch.no_grad():
        for n, p in unet.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    unet.train()
    _backward_once(tiny_pipe, unet)
    trainable = {n for n, p in unet.named_parameters() if p.grad is not None}
    assert trainable and all("lora" in n for n in trainable)
    assert len(trainable) == len(params)
    assert all(p.grad is None for p in tiny_pipe.text_encoder.parameters())
    # Merging folds the adapters in: same outputs, plain diffusers keys.
    unet.eval()
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([10, 500])
    states = tiny_pipe.encode_prompts(["a red circle", "two squares"])
    with torch.no_grad():
        before = unet(x, t, encoder_hidden_states=states).sample
        merge_lora(unet)
        after = unet(x, t, encoder_hidden_states=states).sample
    assert not any("lora" in k for k in unet.state_dict())
    assert torch.allclose(before, after, atol=1e-5)
    assert set(unet.state_dict()) == set(tiny_pipe.unet.state_dict())


@pytest.mark.parametrize(("mode", "sampling"), [("full", "uniform"), ("lora", "weighted")])
def test_finetune_unet_changes_a_copy_only(tiny_pipe, mode, sampling) -> None:
    base_unet, base_clip = weights_digest(tiny_pipe.unet), weights_digest(tiny_pipe.text_encoder)
    cfg = FinetuneConfig(
        steps=3, batch_size=4, mode=mode, sampling=sampling, label_source="human", lora_rank=4, warmup=1
    )
    metrics: dict = {}
    data = _data()
    data.labels[2] = 0  # "human" labels for every sample: no reward model needed
    unet = finetune_unet(tiny_pipe, None, data, cfg, metrics_out=metrics, progress=False)
    assert weights_digest(tiny_pipe.unet) == base_unet and weights_digest(tiny_pipe.text_encoder) == base_clip
    assert weights_digest(unet) != base_unet
    assert not unet.training and not any(p.requires_grad for p in unet.parameters())
    assert set(unet.state_dict()) == set(tiny_pipe.unet.state_dict())
    assert len(metrics["history"]) == 3 and metrics["num_model_samples"] == 6


def test_ema_exports_the_average_of_base_and_trained_weights(tiny_pipe) -> None:
    data = _data()
    data.labels[2] = 0
    kw = {"steps": 1, "batch_size": 4, "label_source": "human", "warmup": 1}
    raw = finetune_unet(tiny_pipe, None, data, FinetuneConfig(**kw), progress=False).state_dict()
    ema = finetune_unet(tiny_pipe, None, data, FinetuneConfig(**kw, ema_decay=0.75), progress=False).state_dict()
    base = tiny_pipe.unet.state_dict()
    changed = [k for k in base if not torch.equal(base[k], raw[k])]
    assert changed  # one step moved some weights; the EMA kept a quarter of that move
    for k in changed:
        torch.testing.assert_close(ema[k], 0.75 * base[k] + 0.25 * raw[k])
    with pytest.raises(ValueError, match="ema_decay"):
        FinetuneConfig(ema_decay=1.0)


def test_unlabeled_and_skipped_need_a_reward_model(tiny_pipe) -> None:
    with pytest.raises(ValueError, match="reward_model"):
        finetune_unet(tiny_pipe, None, _data(), FinetuneConfig(steps=1, label_source="human"), progress=False)
    with pytest.raises(ValueError, match="reward_model"):  # label_source "reward" scores every sample
        finetune_unet(tiny_pipe, None, _data(), FinetuneConfig(steps=1), progress=False)


def test_weighted_sampling_refuses_negative_weights(tiny_pipe) -> None:
    data = _data()
    data.labels[2] = 0
    cfg = FinetuneConfig(steps=1, label_source="human", weight_normalization="none", sampling="weighted")
    data.labels[:] = [0] * len(data)  # all weights zero: nothing to sample
    with pytest.raises(ValueError, match="non-negative"):
        finetune_unet(tiny_pipe, None, data, cfg, progress=False)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="valid: full, lora"):
        FinetuneConfig(mode="qlora")
    with pytest.raises(ValueError, match="valid: reward, human"):
        FinetuneConfig(label_source="human_ranked")
    with pytest.raises(ValueError, match="sampling"):
        FinetuneConfig(sampling="topk")
    with pytest.raises(ValueError, match="model_timestep_min"):
        FinetuneConfig(model_timestep_min=1.0)
    with pytest.raises(ValueError, match="weight_top_fraction"):
        FinetuneConfig(weight_top_fraction=0.0)
    with pytest.raises(ValueError, match="weight_top_min"):
        FinetuneConfig(weight_top_min=float("nan"))
    cfg = FinetuneConfig(batch_size=32, pretrain_fraction=0.5)
    assert (cfg.model_batch, cfg.pretrain_batch) == (16, 16)


def test_save_unet_diffusers_format_with_manifest(tiny_pipe, tmp_path) -> None:
    version = save_unet(tiny_pipe.unet, tmp_path / "u", "base", FinetuneConfig(steps=5), {"loss": 0.1, "history": []})
    assert version.startswith("unet-")
    assert (tmp_path / "u" / "diffusion_pytorch_model.safetensors").is_file()
    verify_manifest(tmp_path / "u")
    m = read_manifest(tmp_path / "u")
    assert m["version"] == version and m["parent_version"] == "base" and m["config"]["steps"] == 5
    assert "history" not in m["metrics"]
    loaded = load_unet(tmp_path / "u")
    assert weights_digest(loaded) == weights_digest(tiny_pipe.unet)


def test_a_floor_that_keeps_nothing_is_a_clear_error(tiny_pipe) -> None:
    data = _data()
    data.labels[:] = [0] * len(data)  # every sample rated bad: none reaches the floor
    cfg = FinetuneConfig(steps=1, label_source="human", weight_normalization="prompt_top", weight_top_min=0.5)
    with pytest.raises(ValueError, match=r"no model sample reaches weight_top_min=0.5 \(highest reward 0.000\)"):
        finetune_unet(tiny_pipe, None, data, cfg, progress=False)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_bf16_finetuning_trains_records_and_restores_fused_attention(tiny_pipe, mode) -> None:
    from t2ialign.models.precision import Precision

    bf16 = tiny_pipe.with_unet(tiny_pipe.unet)
    bf16.precision = Precision.resolve("bfloat16")
    before = {name: type(p) for name, p in tiny_pipe.unet.attn_processors.items()}
    data = _data()
    data.labels[2] = 0
    cfg = FinetuneConfig(steps=3, batch_size=4, mode=mode, label_source="human", lora_rank=4, warmup=1)
    metrics: dict = {}
    unet = finetune_unet(bf16, None, data, cfg, metrics_out=metrics, progress=False)
    assert weights_digest(unet) != weights_digest(tiny_pipe.unet)
    assert all(p.dtype == torch.float32 for p in unet.parameters())  # autocast: fp32 master weights
    assert {name: type(p) for name, p in unet.attn_processors.items()} == before  # plain attention only in training
    assert metrics["precision"] == {"dtype": "bfloat16", "channels_last": True}
    assert all(np.isfinite(h["loss"]) for h in metrics["history"])
