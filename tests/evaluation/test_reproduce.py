"""A tiny `t2ialign reproduce` run: tiny CLIP and UNet, a handful of prompts, one step of everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2ialign.cli import build_parser
from t2ialign.evaluation.presets import smoke_rounds_config
from t2ialign.evaluation.reproduce import reproduce
from t2ialign.models.clip import ClipBackbone
from t2ialign.training.clip_pretrain import ClipTrainConfig, train_clip
from t2ialign.training.generator_pretrain import GeneratorTrainConfig, train_generator

HEADLINE_KEYS = {"alignment", "panel", "fidelity_ratio", "diversity_ratio", "reward_model", "seconds"}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    clip_cfg = ClipTrainConfig(model_name="t2ialign-tiny-test-clip", steps=1, batch_size=8, checkpoint_every=1)
    train_clip(clip_cfg, root / "clip")
    gen_cfg = GeneratorTrainConfig(steps=1, batch_size=4, tiny=True, checkpoint_every=1)
    train_generator(gen_cfg, ClipBackbone.load(root / "clip"), root / "generator")
    return root / "clip", root / "generator"


def test_reproduce_smoke_writes_report_and_json(
    tiny_models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip, generator = tiny_models
    args = build_parser().parse_args(
        [
            "reproduce",
            "--preset",
            "smoke",
            "--json",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--clip",
            str(clip),
            "--generator",
            str(generator),
        ]
    )
    args.func(args)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    headline = json.loads(last)
    assert set(headline) >= HEADLINE_KEYS
    assert set(headline["alignment"]) == {"base", "finetuned", "best_of_16"}
    assert set(headline["alignment"]["base"]) == {"seen", "unseen"}
    assert set(headline["alignment"]["base"]["seen"]) == {"count", "color", "background", "combination"}
    assert abs(sum(headline["panel"].values()) - 1.0) < 1e-3
    assert set(headline["reward_model"]) >= {
        "unseen_accuracy",
        "unseen_accuracy_without_pc",
        "clip_score_unseen_accuracy",
        "seen_accuracy",
    }
    html = (tmp_path / "report.html").read_text()
    assert "<table>" in html and "grids/seen_count.png" in html
    assert (tmp_path / "report.md").is_file() and (tmp_path / "plots" / "reward_scores.png").is_file()
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["models"]) >= {"base", "labeled_only", "plus_unlabeled", "finetuned", "best_of_16"}
    assert results["config"]["seed"] == 3


def test_reproduce_chained_rounds_reports_each_round(tiny_models: tuple[Path, Path], tmp_path: Path) -> None:
    clip, generator = tiny_models
    results = reproduce(smoke_rounds_config(seed=1), tmp_path, clip, generator, log=False)
    assert [r["round_id"] for r in results["rounds"]] == ["r1", "r2"]
    assert results["rounds"][1]["parent_version"] == results["rounds"][0]["unet_version"]
    # Round 1 evaluated beside the final round; no single-round ablation arms.
    assert list(results["models"]) == ["base", "round_1", "finetuned", "best_of_16", "clean_renders"]
    assert set(results["panels"]) >= {"finetuned_vs_base", "round_1_vs_base"}
    # The reward models train on both rounds' labels (skips dropped).
    assert results["feedback"]["images"] == sum(r["num_rated"] for r in results["rounds"])
    for k in ("r1", "r2"):
        assert (tmp_path / "models" / "rounds" / k / "unet" / "manifest.json").is_file()
    md = (tmp_path / "report.md").read_text()
    assert "| after round 1 |" in md and "after round 2 (fine-tuned)" in md and "Chained rounds: 2" in md
