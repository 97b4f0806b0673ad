"""The shipped reward model behind a fresh reward app (issue 17): no pointer in the store, default config."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from t2ialign.common.manifest import read_manifest
from t2ialign.evaluation.reward_accuracy import mismatch_pairs, pair_accuracy
from t2ialign.paths import DEFAULT_REWARD
from t2ialign.toyworld.grammar import SEEN_OBJECTS, UNSEEN_OBJECTS
from t2ialign.v1 import common_pb2, reward_pb2, reward_pb2_grpc

from .conftest import USER_KEY, Serving

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (DEFAULT_REWARD / "manifest.json").is_file(), reason="shipped reward not built yet"),
]
APP = "reward-shipped"


@pytest.fixture(scope="module")
def shipped_app(serving: Serving, tmp_path_factory: pytest.TempPathFactory) -> reward_pb2_grpc.RewardServiceStub:
    """A second reward app in the running Serve: an empty store (no reward-serving pointer), default weights."""
    from ray import serve

    from t2ialign.serving.app import RewardAppArgs, build_reward_app

    store = tmp_path_factory.mktemp("fresh-store")
    args = RewardAppArgs.model_validate({"config": {"store_url": str(store)}, "scaling": {"num_cpus": 0.25}})
    serve.run(build_reward_app(args), name=APP, route_prefix=f"/{APP}")
    try:
        yield reward_pb2_grpc.RewardServiceStub(serving.channel)
    finally:
        serve.delete(APP)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _score(stub: reward_pb2_grpc.RewardServiceStub, images: np.ndarray, prompts: list[str]) -> reward_pb2.ScoreResponse:
    req = reward_pb2.ScoreRequest(prompts=prompts, images=[common_pb2.ImageRef(data=_png(i)) for i in images])
    metadata = [("application", APP), ("authorization", f"Bearer {USER_KEY}")]
    return stub.Score(req, metadata=metadata, timeout=120)


def test_fresh_reward_service_serves_the_shipped_version(shipped_app) -> None:
    r = _score(shipped_app, np.zeros((1, 32, 32, 3), np.uint8), ["a red circle"])
    assert r.reward_version == read_manifest(DEFAULT_REWARD)["version"]
    assert r.reward_version != "untrained"


@pytest.fixture(scope="module")
def clean_pairs(shipped_app) -> dict[str, tuple[dict, dict, np.ndarray, np.ndarray]]:
    """16 clean mismatch pairs per split, scored through the service and by the shipped model in-process."""
    from t2ialign.models.clip import ClipBackbone
    from t2ialign.models.reward import RewardModel
    from t2ialign.paths import DEFAULT_CLIP

    model = RewardModel.load(DEFAULT_REWARD, ClipBackbone.load(DEFAULT_CLIP))
    out = {}
    for split, objects, seed in (("seen", SEEN_OBJECTS, 11), ("unseen", UNSEEN_OBJECTS, 12)):
        pairs = mismatch_pairs(16, objects, seed=seed)
        served = pair_accuracy(lambda ims, ps: np.array(_score(shipped_app, ims, ps).scores), pairs)
        local = pair_accuracy(lambda ims, ps: model.score(ims, ps).numpy(), pairs)
        out[split] = (served, local)
    return out


@pytest.mark.parametrize("split", ["seen", "unseen"])
def test_service_ranks_clean_pairs_as_the_shipped_model_does(clean_pairs, split) -> None:
    """Matching vs one-attribute-mismatch renders through the service: the ranking is the shipped r_phi's."""
    served, local = clean_pairs[split]
    assert served == local


@pytest.mark.parametrize("split", ["seen", "unseen"])
def test_service_ranks_matching_renders_above_one_attribute_mismatches(clean_pairs, split) -> None:
    """The shipped r_phi ranks clean pairs far above chance (the paper's head alone: 55-67%). On 120 pairs a
    split, benchmarks/reward_choice.py measures 96% seen and 92% unseen against issue 17's 95%
    (docs/REWARD_MODEL.md); on these 16 pairs a split the model ranks 100% and 81%, and the bound leaves room."""
    served, _ = clean_pairs[split]
    assert served["accuracy"] >= 0.75, f"{served['accuracy']:.0%} of {split} clean pairs ranked right"
