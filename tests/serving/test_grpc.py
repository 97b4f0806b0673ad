"""gRPC calls through the real Serve gRPC proxy: Score, Rank, Generate (best_of_n, min_reward, seeds),
ModelInfo and the LoadUnet hot-swap."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from t2ialign.v1 import common_pb2, generator_pb2, generator_pb2_grpc, reward_pb2, reward_pb2_grpc

from .conftest import ADMIN_KEY, REWARD_VERSION, UNET_VERSION, USER_KEY, Serving

pytestmark = pytest.mark.integration


def md(app: str, key: str = USER_KEY) -> list[tuple[str, str]]:
    return [("application", app), ("authorization", f"Bearer {key}")]


def png(seed: int, size: int = 32) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def reward_stub(s: Serving) -> reward_pb2_grpc.RewardServiceStub:
    return reward_pb2_grpc.RewardServiceStub(s.channel)


def generator_stub(s: Serving) -> generator_pb2_grpc.GeneratorServiceStub:
    return generator_pb2_grpc.GeneratorServiceStub(s.channel)


def generate(s: Serving, **kw) -> generator_pb2.GenerateResponse:
    req = generator_pb2.GenerateRequest(prompt=kw.pop("prompt", "a red circle"), **kw)
    return generator_stub(s).Generate(req, metadata=md("generator"), timeout=120)


def test_score_returns_raw_normalized_and_version(serving: Serving) -> None:
    images = [common_pb2.ImageRef(data=png(i)) for i in range(3)]
    r = reward_stub(serving).Score(
        reward_pb2.ScoreRequest(prompts=["a red circle"], images=images), metadata=md("reward"), timeout=60
    )
    assert r.reward_version == REWARD_VERSION
    assert len(r.scores) == len(r.normalized) == 3
    # The published checkpoint's calibration statistics are mean 0.1, std 0.5.
    np.testing.assert_allclose(r.normalized, (np.array(r.scores) - 0.1) / 0.5, rtol=1e-4, atol=1e-5)
    # One prompt per image gives the same scores as one prompt for all.
    r2 = reward_stub(serving).Score(
        reward_pb2.ScoreRequest(prompts=["a red circle"] * 3, images=images), metadata=md("reward"), timeout=60
    )
    np.testing.assert_allclose(r2.scores, r.scores, rtol=1e-5, atol=1e-6)


def test_rank_returns_best_k_in_order(serving: Serving) -> None:
    images = [common_pb2.ImageRef(data=png(10 + i)) for i in range(5)]
    scores = (
        reward_stub(serving)
        .Score(reward_pb2.ScoreRequest(prompts=["two blue squares"], images=images), metadata=md("reward"), timeout=60)
        .scores
    )
    r = reward_stub(serving).Rank(
        reward_pb2.RankRequest(prompt="two blue squares", images=images, k=2), metadata=md("reward"), timeout=60
    )
    assert r.reward_version == REWARD_VERSION
    assert [x.index for x in r.ranked] == list(np.argsort(-np.array(scores), kind="stable")[:2])
    assert r.ranked[0].score >= r.ranked[1].score


def test_generate_same_seed_same_images_and_keys_in_store(serving: Serving) -> None:
    a = generate(serving, num_images=2, seed=11, return_images=True)
    b = generate(serving, num_images=2, seed=11, return_images=True)
    c = generate(serving, num_images=2, seed=12, return_images=True)
    assert [x.image.data for x in a.images] == [x.image.data for x in b.images]
    assert [x.image.data for x in a.images] != [x.image.data for x in c.images]
    assert {x.image.key for x in a.images}.isdisjoint({x.image.key for x in b.images})  # write-once keys
    assert a.num_generated == 2 and a.seed == 11 and a.reward_version == REWARD_VERSION
    for x in a.images:
        assert x.image.key.startswith("images/serve/") and x.unet_version == a.unet_version
        assert serving.store.get_bytes(x.image.key) == x.image.data
    # Scoring a stored image by key gives the reward Generate reported.
    r = reward_stub(serving).Score(
        reward_pb2.ScoreRequest(prompts=["a red circle"], images=[common_pb2.ImageRef(key=a.images[0].image.key)]),
        metadata=md("reward"),
        timeout=60,
    )
    assert r.scores[0] == pytest.approx(a.images[0].reward, abs=1e-5)


def test_best_of_n_keeps_exactly_the_top_rewards(serving: Serving) -> None:
    # The n candidates of best_of_n are exactly the images an unfiltered request with num_images=n gets.
    every = generate(serving, num_images=6, seed=21, return_images=True)
    best = generate(serving, num_images=2, best_of_n=6, seed=21, return_images=True)
    rewards = np.array([x.reward for x in every.images])
    top = list(np.argsort(-rewards, kind="stable")[:2])
    assert best.num_generated == 6 and len(best.images) == 2
    assert [x.index for x in best.images] == top
    for x in best.images:
        assert x.image.data == every.images[x.index].image.data
        assert x.reward == pytest.approx(rewards[x.index], abs=1e-5)


def test_min_reward_drops_images_below_threshold(serving: Serving) -> None:
    every = generate(serving, num_images=4, seed=31)
    normalized = sorted(x.normalized_reward for x in every.images)
    threshold = (normalized[1] + normalized[2]) / 2
    kept = generate(serving, num_images=4, seed=31, min_reward=threshold)
    assert len(kept.images) == 2 and all(x.normalized_reward >= threshold for x in kept.images)


def test_model_info_then_hot_swap_and_failed_swap(serving: Serving) -> None:
    stub = generator_stub(serving)
    info = stub.ModelInfo(generator_pb2.ModelInfoRequest(), metadata=md("generator"), timeout=30)
    assert info.backend == "toy" and info.unet.version == "toy-test-base" and info.resolution == 32
    before = generate(serving, num_images=1, seed=41, return_images=True)
    assert before.unet_version == "toy-test-base"
    # A user key may not swap models.
    with pytest.raises(Exception) as e:
        stub.LoadUnet(generator_pb2.LoadUnetRequest(version=UNET_VERSION), metadata=md("generator"), timeout=60)
    assert e.value.code().name == "PERMISSION_DENIED"
    # Swap in the published version: new images, new version reported.
    r = stub.LoadUnet(generator_pb2.LoadUnetRequest(version=UNET_VERSION), metadata=md("generator", ADMIN_KEY))
    assert r.swapped and r.serving.version == UNET_VERSION and r.previous.version == "toy-test-base", r.error
    after = generate(serving, num_images=1, seed=41, return_images=True)
    assert after.unet_version == after.images[0].unet_version == UNET_VERSION
    assert after.images[0].image.data != before.images[0].image.data
    # A version that does not exist: the replica keeps serving the current one and says why.
    bad = stub.LoadUnet(generator_pb2.LoadUnetRequest(version="missing-v"), metadata=md("generator", ADMIN_KEY))
    assert not bad.swapped and bad.serving.version == UNET_VERSION and "manifest" in bad.error
    info = stub.ModelInfo(generator_pb2.ModelInfoRequest(), metadata=md("generator"), timeout=30)
    assert info.unet.version == UNET_VERSION and info.last_load_error == bad.error
    assert generate(serving, num_images=1, seed=41).unet_version == UNET_VERSION
