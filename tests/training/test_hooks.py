"""LoopHooks (training/hooks.py): a stopped-and-resumed loop ends where an uninterrupted one does, and the
data-parallel shares of a batch add up to the one-process loss and gradient."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from t2ialign.models.toy_pipeline import training_scheduler
from t2ialign.training.feedback import FeedbackSet
from t2ialign.training.finetune import FinetuneConfig, finetune_loss, finetune_unet
from t2ialign.training.hooks import LoopHooks, StepInfo
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model


def _data(n: int = 6) -> FeedbackSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    prompts = ["a red circle", "two squares", "a ring in the snow"] * (n // 3)
    return FeedbackSet(images, prompts, ([1, 0, 1, 1, 0, 1] * n)[:n], [f"i{i}" for i in range(n)], "r1")


class StopAt:
    """on_step that checkpoints into `folder` and stops at the first step >= `at` that can be saved."""

    def __init__(self, at: int, folder):
        self.at, self.folder, self.seen = at, folder, []

    def __call__(self, info: StepInfo) -> bool:
        self.seen.append(info.step)
        if info.step >= self.at and info.save is not None:
            info.save(self.folder)
            return True
        return False


def test_finetune_stopped_and_resumed_matches_uninterrupted(tiny_pipe, tmp_path) -> None:
    cfg = FinetuneConfig(steps=6, batch_size=4, warmup=2, ema_decay=0.5, label_source="human", seed=3)
    whole = finetune_unet(tiny_pipe, None, _data(), cfg, progress=False)
    stop = StopAt(3, tmp_path / "ckpt")
    finetune_unet(tiny_pipe, None, _data(), cfg, progress=False, hooks=LoopHooks(on_step=stop))
    assert stop.seen == [1, 2, 3]
    resumed = finetune_unet(tiny_pipe, None, _data(), cfg, progress=False, hooks=LoopHooks(resume_from=stop.folder))
    # Equal up to float rounding (the resumed run encodes its captions in other batches, TextStateCache): the
    # gap is a small fraction of what training moved.
    assert _distance(resumed, whole) < 0.01 * _distance(whole, tiny_pipe.unet)


def _distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return float(sum(((sa[k].float() - sb[k].float()) ** 2).sum() for k in sa) ** 0.5)


def test_finetune_resume_refuses_another_config(tiny_pipe, tmp_path) -> None:
    cfg = FinetuneConfig(steps=3, batch_size=4, label_source="human")
    stop = StopAt(1, tmp_path / "ckpt")
    finetune_unet(tiny_pipe, None, _data(), cfg, progress=False, hooks=LoopHooks(on_step=stop))
    other = FinetuneConfig(steps=3, batch_size=4, label_source="human", lr=1e-3)
    with pytest.raises(ValueError, match="another config"):
        finetune_unet(tiny_pipe, None, _data(), other, progress=False, hooks=LoopHooks(resume_from=stop.folder))


def test_finetune_shards_sum_to_the_one_process_loss_and_gradient(tiny_pipe) -> None:
    unet = copy.deepcopy(tiny_pipe.unet).train().requires_grad_(True)
    sched = training_scheduler()
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    states = tiny_pipe.text_encoder.token_states(["a red circle", "two squares"] * 4).detach()
    w = torch.rand(4)

    def loss_and_grad(shard):
        unet.zero_grad(set_to_none=True)
        gen = torch.Generator().manual_seed(5)
        loss, _ = finetune_loss(unet, sched, x[:4], states[:4], w, x[4:], states[4:], 0.7, gen, 0.3, shard)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in unet.parameters()]

    full_loss, full_grad = loss_and_grad(None)
    shares = [loss_and_grad((LoopHooks(r, 2).shard(4), LoopHooks(r, 2).shard(4))) for r in range(2)]
    assert torch.allclose((shares[0][0] + shares[1][0]) / 2, full_loss, atol=1e-6)
    for g, g0, g1 in zip(full_grad, shares[0][1], shares[1][1], strict=True):
        assert torch.allclose((g0 + g1) / 2, g, atol=1e-6, rtol=1e-4)


def test_shard_refuses_an_uneven_batch() -> None:
    with pytest.raises(ValueError, match="split evenly"):
        LoopHooks(rank=0, world_size=3).shard(4)


def test_reward_stopped_and_resumed_matches_uninterrupted(tiny_clip, tmp_path) -> None:
    fs = _data(12)
    cfg = RewardTrainConfig(epochs=4, batch_size=5, seed=1)
    args = (tiny_clip, fs.images, fs.prompts, fs.labels, cfg)
    whole = train_reward_model(*args)
    stop = StopAt(5, tmp_path / "ckpt")  # 3 steps per epoch: the first checkpoint at step 6 (2 epochs)
    train_reward_model(*args, hooks=LoopHooks(on_step=stop))
    assert stop.seen == [1, 2, 3, 4, 5, 6]
    resumed = train_reward_model(*args, hooks=LoopHooks(resume_from=stop.folder))
    assert resumed.version == whole.version
