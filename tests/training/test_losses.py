"""The losses of Eqs. 1-3 against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from t2ialign.models.toy_pipeline import training_scheduler
from t2ialign.training.finetune import finetune_loss, normalize_weights, reward_weighted_loss
from t2ialign.training.reward_train import prompt_classification_loss, rating_loss


def test_rating_loss_is_mse() -> None:
    pred, y = torch.tensor([0.2, 0.9, 0.5]), torch.tensor([0, 1, 1])
    expected = (0.2**2 + 0.1**2 + 0.5**2) / 3
    assert rating_loss(pred, y).item() == pytest.approx(expected, rel=1e-6)


def test_prompt_classification_loss_by_hand() -> None:
    # Rewards of one image against 3 prompts, the true one in column 1, T = 2:
    # -log(exp(3/2) / (exp(1/2) + exp(3/2) + exp(0/2)))
    scores = torch.tensor([[1.0, 3.0, 0.0]])
    expected = -math.log(math.exp(1.5) / (math.exp(0.5) + math.exp(1.5) + math.exp(0.0)))
    got = prompt_classification_loss(scores, torch.tensor([1]), temperature=2.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # A second row (true column 0, T still 2) makes it the batch mean.
    scores2 = torch.tensor([[1.0, 3.0, 0.0], [2.0, -2.0, 0.0]])
    e2 = -math.log(math.exp(1.0) / (math.exp(1.0) + math.exp(-1.0) + math.exp(0.0)))
    got2 = prompt_classification_loss(scores2, torch.tensor([1, 0]), temperature=2.0)
    assert got2.item() == pytest.approx((expected + e2) / 2, rel=1e-6)


def test_prompt_classification_loss_mask_ignores_padding() -> None:
    scores = torch.tensor([[1.0, 3.0, 100.0]])
    mask = torch.tensor([[True, True, False]])
    expected = -math.log(math.exp(0.5) / (math.exp(0.5) + math.exp(1.5)))
    got = prompt_classification_loss(scores, torch.tensor([0]), 2.0, mask)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        prompt_classification_loss(scores, torch.tensor([0]), 0.0)


def test_reward_weighted_loss_is_weighted_mean() -> None:
    losses, w = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.5, 0.0, 2.0, 1.0])
    assert reward_weighted_loss(losses, w).item() == pytest.approx((0.5 + 0 + 6 + 4) / 4)
    with pytest.raises(ValueError, match="differ"):
        reward_weighted_loss(losses, w[:3])


def test_normalize_weights() -> None:
    r = torch.tensor([-0.2, 0.25, 0.75, 1.3])
    assert torch.equal(normalize_weights(r, "none"), r)
    assert normalize_weights(r, "clip").tolist() == [0.0, 0.25, 0.75, 1.0]
    m = normalize_weights(r, "mean")
    assert m.mean().item() == pytest.approx(1.0) and m[0] == 0
    e = normalize_weights(r, "exp", temperature=0.5)
    assert e.mean().item() == pytest.approx(1.0) and bool((e.diff() > 0).all())
    with pytest.raises(ValueError, match="valid"):
        normalize_weights(r, "softmax")


def test_prompt_mean_weighs_every_prompt_alike() -> None:
    # Prompt "a": 3 good of 4; prompt "b": 1 good of 4; prompt "c": none good.
    labels = torch.tensor([1.0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    prompts = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    w = normalize_weights(labels, "prompt_mean", prompts=prompts)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[:4].sum().item() == pytest.approx(w[4:8].sum().item())  # hard prompt b weighs as much as easy a
    assert w[4].item() == pytest.approx(3 * w[0].item())  # so its one good sample weighs 3x each of a's
    assert w[8:].sum().item() == 0 and w[3].item() == 0  # bad samples and all-bad prompts weigh nothing
    with pytest.raises(ValueError, match="one prompt per reward"):
        normalize_weights(labels, "prompt_mean")


def test_prompt_top_keeps_each_prompts_best_samples_by_reward() -> None:
    # Prompt "a" scores high everywhere, prompt "b" low: ranking is within a prompt, not across prompts.
    r = torch.tensor([0.9, 0.7, 0.95, 0.8, 0.1, 0.3, 0.05, 0.2])
    prompts = ["a"] * 4 + ["b"] * 4
    w = normalize_weights(r, "prompt_top", prompts=prompts, top_fraction=0.5)
    assert w.tolist() == [2.0, 0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 2.0]  # a's 0.95 and 0.9, b's 0.3 and 0.2
    one = normalize_weights(r, "prompt_top", prompts=prompts, top_fraction=0.25)  # ceil(0.25 * 4) = 1 each
    assert one.tolist() == [0.0, 0.0, 4.0, 0.0, 0.0, 4.0, 0.0, 0.0]
    assert normalize_weights(r, "prompt_top", prompts=prompts, top_fraction=0.3).tolist() == w.tolist()  # ceil
    with pytest.raises(ValueError, match="one prompt per reward"):
        normalize_weights(r, "prompt_top")


def test_prompt_top_breaks_label_ties_by_reward_and_gates_by_minimum() -> None:
    # Binary labels with r_phi as the tiebreak: each prompt keeps its approved sample that r_phi ranks highest.
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    r_phi = torch.tensor([0.6, 0.99, 0.8, 0.1, 0.9, 0.2, 0.3, 0.1])
    prompts = ["a"] * 4 + ["b"] * 4
    w = normalize_weights(labels, "prompt_top", prompts=prompts, top_fraction=0.25, tiebreak=r_phi)
    assert w.tolist() == [0.0, 0.0, 4.0, 0.0, 4.0, 0.0, 0.0, 0.0]  # a: 0.8 beats 0.6; b: all 0, r_phi's best
    gated = normalize_weights(labels, "prompt_top", prompts=prompts, top_fraction=0.25, tiebreak=r_phi, top_min=0.5)
    assert gated.tolist() == [0.0, 0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # b has no approved sample: it sends none
    untied = normalize_weights(labels, "prompt_top", prompts=prompts, top_fraction=0.25)
    assert untied[:4].tolist() == [4.0, 0.0, 0.0, 0.0]  # without a tiebreak the first approved sample is kept


def test_beta_mixes_in_pretraining_loss(tiny_pipe) -> None:
    torch.manual_seed(0)
    unet, sched = tiny_pipe.unet, training_scheduler()
    x_m, x_p = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    s_m = tiny_pipe.encode_prompts(["a red circle", "two squares", "a ring"])
    s_p = tiny_pipe.encode_prompts(["a cross", ""])
    w = torch.tensor([1.0, 0.5, 0.0])

    def run(beta: float):
        gen = torch.Generator().manual_seed(123)  # same noise and timesteps for every beta
        with torch.no_grad():
            return finetune_loss(unet, sched, x_m, s_m, w, x_p, s_p, beta, gen)

    t0, p0 = run(0.0)
    t2, p2 = run(2.0)
    assert p0 == p2  # the parts do not depend on beta
    assert t0.item() == pytest.approx(p0["model"], rel=1e-5)
    assert t2.item() == pytest.approx(p2["model"] + 2.0 * p2["pretrain"], rel=1e-5)
    assert p2["pretrain"] > 0
    # Without a corpus half the pre-training term is zero.
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        t_none, parts = finetune_loss(unet, sched, x_m, s_m, w, None, None, 2.0, gen)
    assert parts["pretrain"] == 0.0 and t_none.item() == pytest.approx(parts["model"], rel=1e-6)


def test_model_timestep_min_moves_only_the_model_half_to_high_noise(tiny_pipe) -> None:
    unet, sched = tiny_pipe.unet, training_scheduler()
    seen_t: list[torch.Tensor] = []
    hook = unet.register_forward_pre_hook(lambda _m, args: seen_t.append(args[1].clone()))
    bm, bp = 64, 64  # many samples, so a uniform draw would land below 0.9 T with near certainty
    x_m, x_p = torch.zeros(bm, 3, 32, 32), torch.zeros(bp, 3, 32, 32)
    s_m = tiny_pipe.encode_prompts(["a red circle"] * bm)
    s_p = tiny_pipe.encode_prompts(["a cross"] * bp)
    try:
        with torch.no_grad():
            finetune_loss(
                unet,
                sched,
                x_m,
                s_m,
                torch.ones(bm),
                x_p,
                s_p,
                1.0,
                torch.Generator().manual_seed(0),
                model_timestep_min=0.9,
            )
    finally:
        hook.remove()
    t = seen_t[0]
    n_t = sched.config.num_train_timesteps
    assert t.shape == (bm + bp,)
    assert int(t[:bm].min()) >= int(0.9 * n_t) and int(t[:bm].max()) < n_t  # the model half: top 10% only
    assert int(t[bm:].min()) < int(0.9 * n_t)  # the corpus half stays uniform over [0, T)
