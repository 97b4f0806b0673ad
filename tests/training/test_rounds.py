"""A tiny end-to-end loop: generate, rate, train the reward model, fine-tune; chained over two rounds."""

from __future__ import annotations

from t2ialign.common.manifest import read_manifest, verify_manifest
from t2ialign.models.reward import RewardConfig
from t2ialign.store import LocalStore, model_prefix
from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import load_feedback
from t2ialign.training.finetune import FinetuneConfig, weights_digest
from t2ialign.training.reward_train import RewardTrainConfig
from t2ialign.training.rounds import RoundConfig, run_rounds

PROMPTS = [
    PromptSpec("circle", count=2, category="count"),
    PromptSpec("square", color="red", category="color"),
    PromptSpec("ring", background="snow", category="background"),
]


def test_two_tiny_rounds_end_to_end(tiny_pipe, tmp_path) -> None:
    cfg = RoundConfig(
        images_per_prompt=3,
        unlabeled_per_prompt=2,
        num_inference_steps=2,
        reward=RewardTrainConfig(epochs=2, reward=RewardConfig(hidden=32)),
        finetune=FinetuneConfig(steps=2, batch_size=4, warmup=1),
    )
    store = LocalStore(tmp_path / "store")
    evaluated = []
    results = run_rounds(
        2,
        tiny_pipe,
        PROMPTS,
        SimulatedRaters(seed=0),
        cfg,
        seed=0,
        store=store,
        out_dir=tmp_path / "runs",
        evaluate=lambda pipe, unet: evaluated.append(weights_digest(unet)) or {"digest": evaluated[-1][:8]},
    )
    r1, r2 = results
    # Round 2 sampled from round 1's fine-tuned UNet and continued from it.
    assert r2.parent_version == r1.unet_version and r1.parent_version == "base"
    assert r1.feedback.metadata[0]["unet-version"] == "base"
    assert r2.feedback.metadata[0]["unet-version"] == r1.unet_version
    assert len({weights_digest(tiny_pipe.unet), weights_digest(r1.unet), weights_digest(r2.unet)}) == 3
    # The reward model of round 2 trained on both rounds' labels.
    n_labeled = sum(y is not None for r in results for y in r.feedback.labels)
    assert r2.reward_model.metrics["num_labeled"] == n_labeled
    # Artifacts: checkpoints with manifests, locally and in the store; feedback readable back.
    for r in results:
        verify_manifest(r.unet_dir)
        verify_manifest(r.reward_dir)
        assert read_manifest(r.unet_dir)["version"] == r.unet_version
        assert store.exists(model_prefix("unet", r.unet_version) + "manifest.json")
        assert store.exists(model_prefix("reward", r.reward_model.version) + "manifest.json")
        assert len(load_feedback(store, r.round_id)) == 3 * 3 + 3 * 2  # rated + unlabeled
        assert r.metrics["evaluation"]["digest"]
        assert {"collect_seconds", "reward_seconds", "finetune_seconds", "good_rate"} <= set(r.metrics)
