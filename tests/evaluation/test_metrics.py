"""Evaluation metrics on constructed inputs: Fréchet distance, diversity, the panel, best-of-n, accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from t2ialign.evaluation.best_of_n import score_sets, select_top
from t2ialign.evaluation.fidelity import clean_renders, diversity, frechet_distance
from t2ialign.evaluation.panel import PanelConfig, panel_from_matches, run_panel
from t2ialign.evaluation.reward_accuracy import auc, fit_threshold, reward_accuracy
from t2ialign.toyworld.grammar import PromptSpec, parse_prompt
from t2ialign.toyworld.render import render


def test_frechet_zero_for_identical_and_grows_with_shift() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    d = [frechet_distance(x, x + s) for s in (0.5, 1.0, 2.0)]
    assert d[0] > 0.1 and d[0] < d[1] < d[2]
    assert d[1] == pytest.approx(8 * 1.0**2, rel=1e-6)  # a pure mean shift adds ||shift||^2
    wider = frechet_distance(x, 2 * x)
    assert wider > 1.0


def test_frechet_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_diversity_zero_for_identical_images() -> None:
    emb = np.tile(np.array([1.0, 0.0, 0.0]), (3, 4, 1))  # (P=3, K=4, D=3), all the same
    assert diversity(emb) == 0.0
    emb2 = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # two orthogonal unit vectors
    assert diversity(emb2) == pytest.approx(np.sqrt(2))


def test_clean_renders_are_exact() -> None:
    spec = parse_prompt("two red circles in the snow")
    imgs = clean_renders([spec], 3, seed=5)
    assert imgs.shape == (1, 3, 32, 32, 3)
    assert np.array_equal(imgs[0, 0], render(spec, seed=5))


def test_panel_counts_wins_losses_ties() -> None:
    perfect, wrong = np.ones((1, 4), bool), np.zeros((1, 4), bool)
    half = np.array([[True, True, False, False]])
    a = np.concatenate([perfect, wrong, half, perfect])
    b = np.concatenate([wrong, perfect, half, perfect])
    res = panel_from_matches(a, b, PanelConfig(flip_rate=0.0))
    assert res.outcomes == ["win", "lose", "tie", "tie"]
    assert res.votes[0] == (9, 0, 0) and res.votes[2] == (0, 0, 9)
    assert res.shares() == {"win": 0.25, "lose": 0.25, "tie": 0.5}
    by_split = res.by_split(["seen", "seen", "unseen", "unseen"])
    assert by_split["seen"] == {"win": 0.5, "lose": 0.5, "tie": 0.0} and by_split["unseen"]["tie"] == 1.0
    assert by_split["all"] == res.shares()


def test_panel_noise_is_seeded_and_rarely_flips_a_clear_win() -> None:
    a, b = np.ones((200, 4), bool), np.zeros((200, 4), bool)
    cfg = PanelConfig(flip_rate=0.1, seed=3)
    r1, r2 = panel_from_matches(a, b, cfg), panel_from_matches(a, b, cfg)
    assert r1.outcomes == r2.outcomes
    assert r1.shares()["win"] > 0.9 and r1.shares()["lose"] == 0.0
    # With coin-flip raters (flip_rate near 0.5), about half the prompts lack a 2/3 majority.
    assert panel_from_matches(a, b, PanelConfig(flip_rate=0.49, seed=3)).shares()["tie"] > 0.3


def test_run_panel_on_renders_perfect_vs_wrong() -> None:
    prompts = [parse_prompt("a red circle"), parse_prompt("three squares"), parse_prompt("a ring at night")]
    good = clean_renders(prompts, 4, seed=1)
    bad = clean_renders([PromptSpec("triangle", count=2, color="blue", background="city")] * 3, 4, seed=1)
    res = run_panel(good, bad, prompts, PanelConfig(flip_rate=0.0))
    assert res.outcomes == ["win"] * 3
    assert res.by_category() == {
        "color": {"win": 1.0, "lose": 0.0, "tie": 0.0},
        "count": {"win": 1.0, "lose": 0.0, "tie": 0.0},
        "background": {"win": 1.0, "lose": 0.0, "tie": 0.0},
    }
    assert run_panel(bad, good, prompts, PanelConfig(flip_rate=0.0)).shares()["lose"] == 1.0


def test_select_top_picks_highest_reward() -> None:
    images = np.arange(2 * 5).reshape(2, 5, 1, 1, 1).astype(np.uint8).repeat(3, -1)  # pixel value = index
    scores = np.array([[0.1, 0.9, 0.5, 0.7, 0.0], [3.0, 2.0, 1.0, 0.0, 4.0]])
    top, idx = select_top(images, scores, keep=2)
    assert idx.tolist() == [[1, 3], [4, 0]]
    assert top[:, :, 0, 0, 0].tolist() == [[1, 3], [9, 5]]
    with pytest.raises(ValueError, match="keep"):
        select_top(images, scores, keep=6)


def test_score_sets_reshapes_in_prompt_order() -> None:
    class FakeReward:
        def score(self, images: np.ndarray, prompts: list[str]) -> torch.Tensor:
            pairs = zip(images, prompts, strict=True)
            return torch.tensor([float(img[0, 0, 0]) + 100 * (p == "one square") for img, p in pairs])

    images = np.arange(6).reshape(2, 3, 1, 1, 1).astype(np.uint8).repeat(3, -1)
    prompts = [parse_prompt("a circle"), parse_prompt("a square")]
    assert score_sets(FakeReward(), images, prompts).tolist() == [[0, 1, 2], [103, 104, 105]]


def test_threshold_auc_and_accuracy_table() -> None:
    scores, labels = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])
    t = fit_threshold(scores, labels)
    assert 0.2 <= t < 0.8
    assert auc(scores, labels) == 1.0 and auc(-scores, labels) == 0.0
    res = reward_accuracy(
        {"r": scores},
        labels,
        {"r": np.array([0.9, 0.1, 0.7, 0.3])},
        np.array([1, 0, 0, 0]),
        ["seen", "seen", "unseen", "unseen"],
        ["count", "color", "count", "count"],
    )
    assert res["seen"]["r"]["accuracy"] == 1.0 and res["unseen"]["r"]["accuracy"] == 0.5
    assert res["seen"]["r"]["by_category"] == {"count": 1.0, "color": 1.0}
    assert res["unseen"]["majority"] == 0.0  # training labels tie, so the majority answer is "good"
