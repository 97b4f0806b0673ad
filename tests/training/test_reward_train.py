"""Reward model training (Eqs. 1-2) on the frozen tiny CLIP."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from t2ialign.models.reward import RewardConfig, RewardModel
from t2ialign.toyworld.grammar import UNSEEN_OBJECTS, parse_prompt
from t2ialign.toyworld.render import render
from t2ialign.training.reward_train import (
    RewardTrainConfig,
    perturbed_candidates,
    reward_accuracy,
    train_reward_model,
)


def _easy_case(n: int = 24):
    """Good: the prompt's scene. Bad: the same prompt on a scene with another background (night vs snow)."""
    prompt = "a red circle at night"
    good = [render(prompt, seed=i) for i in range(n)]
    bad = [render("a red circle in the snow", seed=i) for i in range(n)]
    images = np.stack(good + bad)
    return images, [prompt] * (2 * n), [1] * n + [0] * n


def test_reward_model_separates_an_easy_case(tiny_clip) -> None:
    images, prompts, labels = _easy_case()
    labels_with_skips = labels + [None]  # a skipped label is dropped, not trained on
    images_with_skip = np.concatenate([images, images[:1]])
    cfg = RewardTrainConfig(epochs=100, lr=3e-3, batch_size=16, seed=0, reward=RewardConfig(hidden=128))
    model = train_reward_model(tiny_clip, images_with_skip, prompts + [prompts[0]], labels_with_skips, cfg)
    assert model.metrics["num_labeled"] == len(labels) and model.metrics["num_skipped"] == 1
    test_images, _, test_labels = _easy_case(8)
    test_images = np.stack(
        [render("a red circle at night", seed=100 + i) for i in range(8)]
        + [render("a red circle in the snow", seed=100 + i) for i in range(8)]
    )
    assert reward_accuracy(model, test_images, prompts[:16], test_labels[:8] + test_labels[-8:]) >= 0.9
    assert model.version.startswith("reward-") and model.stats["std"] > 0
    scores = model.score(images, prompts)
    assert abs(float(model.normalize(scores).mean())) < 1e-4  # stats come from the training images


def test_pc_weight_zero_is_the_ablation(tiny_clip) -> None:
    images, prompts, labels = _easy_case(6)
    cfg = RewardTrainConfig(epochs=2, pc_weight=0.0)
    model = train_reward_model(tiny_clip, images, prompts, labels, cfg)
    assert model.metrics["final"]["pc"] == 0.0
    model_pc = train_reward_model(tiny_clip, images, prompts, labels, RewardTrainConfig(epochs=2))
    assert model_pc.metrics["final"]["pc"] > 0.0


def test_validation_keeps_the_best_epoch(tiny_clip) -> None:
    images, prompts, labels = _easy_case(6)
    model = train_reward_model(
        tiny_clip, images, prompts, labels, RewardTrainConfig(epochs=3), val=(images, prompts, labels)
    )
    assert model.metrics["best_val_accuracy"] is not None
    assert reward_accuracy(model, images, prompts, labels) == model.metrics["best_val_accuracy"]


def test_perturbed_candidates_differ_in_one_attribute_and_avoid_unseen_objects() -> None:
    rng = random.Random(0)
    for prompt in ["two red circles in the desert", "three squares", "a green ring", "a cross at night"]:
        spec = parse_prompt(prompt)
        cands = perturbed_candidates(prompt, 9, rng)
        assert len(cands) == len(set(cands)) and prompt not in cands and cands
        for c in cands:
            other = parse_prompt(c)
            assert other.object not in UNSEEN_OBJECTS
            diffs = [a for a in ("object", "count", "color", "background") if getattr(spec, a) != getattr(other, a)]
            assert len(diffs) == 1, (prompt, c)


def test_perturbed_candidates_keep_to_the_chosen_attributes(tiny_clip) -> None:
    rng = random.Random(0)
    for prompt in ["two red circles in the desert", "three squares", "a green ring"]:
        spec = parse_prompt(prompt)
        for c in perturbed_candidates(prompt, 9, rng, attributes=("count", "color", "background")):
            assert parse_prompt(c).object == spec.object, (prompt, c)
    assert len(perturbed_candidates("three squares", 9, rng, attributes=("count",))) == 3  # 1, 2, 4 at 32x32
    assert perturbed_candidates("three squares", 9, rng, attributes=("color",)) == []  # states no color
    images, prompts, labels = _easy_case(2)
    with pytest.raises(ValueError, match="perturb_attributes"):
        train_reward_model(tiny_clip, images, prompts, labels, RewardTrainConfig(perturb_attributes=("shape",)))


def test_reward_checkpoint_round_trip(tiny_clip, tmp_path) -> None:
    images, prompts, labels = _easy_case(4)
    model = train_reward_model(tiny_clip, images, prompts, labels, RewardTrainConfig(epochs=2))
    model.save(tmp_path / "rw")
    loaded = RewardModel.load(tmp_path / "rw", tiny_clip)
    assert loaded.version == model.version and loaded.stats == model.stats
    assert loaded.metrics["num_labeled"] == 8
    np.testing.assert_allclose(loaded.score(images, prompts).numpy(), model.score(images, prompts).numpy(), atol=1e-6)


def test_product_features_head_trains_saves_and_loads(tiny_clip, tmp_path) -> None:
    images, prompts, labels = _easy_case(4)
    cfg = RewardTrainConfig(epochs=2, reward={"hidden": 32, "product_features": True})  # JSON overrides: a dict
    model = train_reward_model(tiny_clip, images, prompts, labels, cfg)
    assert model.head.net[0].in_features == 3 * tiny_clip.embed_dim  # image, text and their product
    model.save(tmp_path / "rw")
    loaded = RewardModel.load(tmp_path / "rw", tiny_clip)
    assert loaded.cfg.product_features and loaded.version == model.version
    np.testing.assert_allclose(loaded.score(images, prompts).numpy(), model.score(images, prompts).numpy(), atol=1e-6)
    plain = train_reward_model(tiny_clip, images, prompts, labels, RewardTrainConfig(epochs=1))
    assert plain.head.net[0].in_features == 2 * tiny_clip.embed_dim  # the paper's head stays the default


def test_product_skip_head_starts_at_the_mlp_and_round_trips(tiny_clip, tmp_path) -> None:
    images, prompts, labels = _easy_case(4)
    cfg = RewardTrainConfig(epochs=2, reward={"hidden": 32, "product_features": True, "product_skip": True})
    model = train_reward_model(tiny_clip, images, prompts, labels, cfg)
    assert model.head.skip is not None and model.head.skip.weight.abs().sum() > 0  # trained away from its zero init
    fresh = RewardModel(tiny_clip, model.cfg)
    assert fresh.head.skip is not None and torch.count_nonzero(fresh.head.skip.weight) == 0
    img_e, txt_e = torch.randn(3, tiny_clip.embed_dim), torch.randn(3, tiny_clip.embed_dim)
    with torch.no_grad():
        fresh.head.eval()
        mlp_only = fresh.head.net(torch.cat([img_e, txt_e, img_e * txt_e], dim=-1)).squeeze(-1)
        torch.testing.assert_close(fresh.head(img_e, txt_e), mlp_only)
    model.save(tmp_path / "rw")
    loaded = RewardModel.load(tmp_path / "rw", tiny_clip)
    assert loaded.cfg.product_skip and loaded.version == model.version
    np.testing.assert_allclose(loaded.score(images, prompts).numpy(), model.score(images, prompts).numpy(), atol=1e-6)
