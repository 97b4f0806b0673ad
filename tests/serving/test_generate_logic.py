"""A whole Generate call (validate, generate, score, select, store, answer) through `Generator.generate`, without
Ray: the scorer is a plain async function standing in for the reward service's handle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from t2ialign.common.png import decode_png
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.generator.logic import Generator
from t2ialign.serving.errors import InvalidArgument, Unavailable

from .models import build_toy_models


class BrightnessScorer:
    """Scores an image by its mean pixel value (raw) and that minus 128, over 64 (normalized); records calls."""

    def __init__(self, fail: Exception | None = None):
        self.fail, self.calls = fail, []

    async def __call__(self, images: np.ndarray, prompts: list[str]) -> dict[str, Any]:
        self.calls.append((images.shape, prompts))
        if self.fail is not None:
            raise self.fail
        raw = images.reshape(len(images), -1).mean(axis=1)
        return {"scores": raw.tolist(), "normalized": ((raw - 128) / 64).tolist(), "reward_version": "rw-bright"}


@pytest.fixture(scope="module")
def generator(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    root = tmp_path_factory.mktemp("generate")
    _, generator_dir = build_toy_models(root / "models")
    cfg = GeneratorServiceConfig(model=str(generator_dir), store_url=str(root / "store"), default_num_inference_steps=2)
    return Generator.from_config(cfg)


def generate(generator: Generator, request: dict[str, Any], scorer: BrightnessScorer) -> dict[str, Any]:
    return asyncio.run(generator.generate(request, scorer))


def test_best_of_n_keeps_the_best_scored_and_stores_them(generator: Generator) -> None:
    scorer = BrightnessScorer()
    request = {"prompt": "a red circle", "num_images": 2, "best_of_n": 6, "seed": 4, "return_images": True}
    r = generate(generator, request, scorer)
    assert scorer.calls == [((6, 32, 32, 3), ["a red circle"])]  # all n scored, with the request's prompt
    assert r["num_generated"] == 6 and r["seed"] == 4 and r["reward_version"] == "rw-bright"
    assert r["unet_version"] == "toy-test-base"
    rewards = [x["reward"] for x in r["images"]]
    assert len(rewards) == 2 and rewards == sorted(rewards, reverse=True)
    everything = generate(generator, {**request, "num_images": 6}, BrightnessScorer())  # same seed: same 6 images
    assert rewards == sorted((x["reward"] for x in everything["images"]), reverse=True)[:2]
    for x in r["images"]:
        stored = generator.store.get_bytes(x["key"])
        assert stored == x["png"] and decode_png(stored).mean() == pytest.approx(x["reward"])
        meta = json.loads(generator.store.get_bytes(x["key"][: -len(".png")] + ".json"))
        assert meta["index"] == x["index"] and meta["best_of_n"] == 6 and meta["reward_version"] == "rw-bright"
        assert Path(x["key"]).parts[:2] == ("images", "serve")


def test_min_reward_drops_low_images_and_no_filter_keeps_order(generator: Generator) -> None:
    plain = generate(generator, {"prompt": "two blue squares", "num_images": 4, "seed": 1}, BrightnessScorer())
    assert [x["index"] for x in plain["images"]] == [0, 1, 2, 3] and plain["images"][0]["png"] == b""
    cut = sorted(x["normalized_reward"] for x in plain["images"])[2]
    request = {"prompt": "two blue squares", "num_images": 4, "seed": 1, "min_reward": cut}
    kept = generate(generator, request, BrightnessScorer())
    assert len(kept["images"]) == 2 and all(x["normalized_reward"] >= cut for x in kept["images"])


def test_bad_request_is_refused_before_generating(generator: Generator) -> None:
    scorer = BrightnessScorer()
    with pytest.raises(InvalidArgument, match="best_of_n=3"):
        generate(generator, {"prompt": "a red circle", "num_images": 4, "best_of_n": 3}, scorer)
    assert scorer.calls == []


def test_scorer_failures_are_unavailable_and_service_errors_pass_through(generator: Generator) -> None:
    with pytest.raises(Unavailable, match="reward service failed to score .RuntimeError: down"):
        generate(generator, {"prompt": "a red circle"}, BrightnessScorer(fail=RuntimeError("down")))
    with pytest.raises(InvalidArgument, match="too dark"):
        generate(generator, {"prompt": "a red circle"}, BrightnessScorer(fail=InvalidArgument("too dark")))
