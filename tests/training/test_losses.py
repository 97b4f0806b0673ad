"""The losses of Eqs. 1-3 against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from t2ialign.models.toy_pipeline import training_scheduler
from t2ialign.training.finetune import FinetuneConfig, finetune_loss, reward_weighted_loss
from t2ialign.training.reward_train import prompt_classification_loss, rating_loss
from t2ialign.training.weighting import WEIGHTINGS, weigh


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


def _weigh(r: torch.Tensor, how: str, prompts: list[str] | None = None, **cfg: object) -> torch.Tensor:
    return weigh(r, prompts or [""] * len(r), FinetuneConfig(weight_normalization=how, **cfg))


def test_weightings() -> None:
    r = torch.tensor([-0.2, 0.25, 0.75, 1.3])
    assert torch.equal(_weigh(r, "none"), r)
    m = _weigh(r, "mean")
    assert m.mean().item() == pytest.approx(1.0) and m[0] == 0 and m[3] == pytest.approx(1.0 / 0.5)
    e = _weigh(r, "exp", weight_temperature=0.5)
    assert e.mean().item() == pytest.approx(1.0) and bool((e.diff() > 0).all())
    assert e[3] / e[0] == pytest.approx(math.exp(1.5 / 0.5), rel=1e-5)


def test_an_unknown_weighting_lists_the_registered_names() -> None:
    with pytest.raises(ValueError, match="'softmax' not found; available: none, mean, exp, prompt_top"):
        FinetuneConfig(weight_normalization="softmax")
    assert set(WEIGHTINGS) == {"none", "mean", "exp", "prompt_top"}


def test_prompt_top_keeps_each_prompts_best_samples_by_reward() -> None:
    # Prompt "a" scores high everywhere, prompt "b" low: ranking is within a prompt, not across prompts.
    r = torch.tensor([0.9, 0.7, 0.95, 0.8, 0.1, 0.3, 0.05, 0.2])
    prompts = ["a"] * 4 + ["b"] * 4
    w = _weigh(r, "prompt_top", prompts, weight_top_fraction=0.5)
    assert w.tolist() == [2.0, 0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 2.0]  # a's 0.95 and 0.9, b's 0.3 and 0.2
    one = _weigh(r, "prompt_top", prompts, weight_top_fraction=0.25)  # ceil(0.25 * 4) = 1 each
    assert one.tolist() == [0.0, 0.0, 4.0, 0.0, 0.0, 4.0, 0.0, 0.0]
    assert _weigh(r, "prompt_top", prompts, weight_top_fraction=0.3).tolist() == w.tolist()  # ceil
    with pytest.raises(ValueError, match="one prompt per reward"):
        weigh(r, prompts[:3], FinetuneConfig(weight_normalization="prompt_top"))


def test_prompt_top_floor_drops_prompts_without_a_good_sample() -> None:
    r = torch.tensor([0.6, 0.2, 0.9, 0.1, 0.3, 0.2, 0.4, 0.1])
    prompts = ["a"] * 4 + ["b"] * 4
    gated = _weigh(r, "prompt_top", prompts, weight_top_fraction=0.25, weight_top_min=0.5)
    assert gated.tolist() == [0.0, 0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # b's best (0.4) is below the floor
    ungated = _weigh(r, "prompt_top", prompts, weight_top_fraction=0.25)
    assert ungated.tolist() == [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0, 0.0]


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
