"""REST through the gateway (FastAPI ingress under Serve) and the Python client over REST and gRPC."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from t2ialign.client import ClientError, GeneratorClient, RewardClient

from .conftest import ADMIN_KEY, REWARD_VERSION, USER_KEY, Serving
from .test_grpc import png

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {USER_KEY}"}


def test_health_docs_and_models(serving: Serving) -> None:
    assert httpx.get(serving.http + "/healthz", timeout=30).json() == {"status": "ok"}
    assert httpx.get(serving.http + "/-/healthz", timeout=30).status_code == 200
    spec = httpx.get(serving.http + "/openapi.json", timeout=30).json()
    assert {"/v1/score", "/v1/generate", "/v1/models", "/v1/rank"} <= set(spec["paths"])
    assert httpx.get(serving.http + "/docs", timeout=30).status_code == 200
    models = httpx.get(serving.http + "/v1/models", headers=AUTH, timeout=30).json()
    assert models["reward"]["reward_version"] == REWARD_VERSION
    assert models["generator"]["backend"] == "toy" and models["generator"]["unet"]["version"]
    # HTTP under a gRPC app's route says where the API is.
    r = httpx.get(serving.http + "/reward", timeout=30)
    assert r.status_code == 404 and "gRPC" in r.json()["error"]["message"]


def test_rest_score_matches_issue_shape(serving: Serving) -> None:
    images = [base64.b64encode(png(i)).decode() for i in range(3)]
    r = httpx.post(serving.http + "/v1/score", json={"prompt": "a red circle", "images": images}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"scores", "normalized", "reward_version"}
    assert len(body["scores"]) == 3 and body["reward_version"] == REWARD_VERSION


def test_rest_generate_matches_issue_shape_and_best_of_n(serving: Serving) -> None:
    req = {"prompt": "a red circle", "num_images": 1, "seed": 5, "best_of_n": 3, "return_images": True}
    r = httpx.post(serving.http + "/v1/generate", json=req, headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["num_generated"] == 3 and len(body["images"]) == 1
    image = body["images"][0]
    assert {"key", "reward", "unet_version", "png_base64"} <= set(image)
    assert serving.store.get_bytes(image["key"]) == base64.b64decode(image["png_base64"])
    assert image["unet_version"] == body["unet_version"]


def test_reward_client_rest_and_grpc_agree(serving: Serving) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    rest = RewardClient(serving.http, USER_KEY).score("three green triangles", images)
    grpc_client = RewardClient(f"grpc://{serving.grpc_target}", USER_KEY)
    via_grpc = grpc_client.score("three green triangles", images)
    assert len(rest) == 4 and all(isinstance(s, float) for s in rest)
    np.testing.assert_allclose(rest, via_grpc, rtol=1e-5, atol=1e-6)
    ranked = grpc_client.rank("three green triangles", images, k=2)
    assert [x["index"] for x in ranked] == list(np.argsort(-np.array(via_grpc), kind="stable")[:2])
    with pytest.raises(ClientError) as e:
        RewardClient(serving.http, "wrong-key-0000").score("a", images[:1])
    assert e.value.code == "UNAUTHENTICATED" and e.value.status == 401


def test_generator_client_rest_and_grpc_same_images(serving: Serving) -> None:
    kw = {"num_images": 2, "seed": 77, "return_images": True}
    a = GeneratorClient(serving.http, USER_KEY).generate("one small square", **kw)
    b = GeneratorClient(f"grpc://{serving.grpc_target}", USER_KEY).generate("one small square", **kw)
    assert a["unet_version"] == b["unet_version"]
    assert [x["png"] for x in a["images"]] == [x["png"] for x in b["images"]]
    info = GeneratorClient(f"grpc://{serving.grpc_target}", ADMIN_KEY).model_info()
    assert info["backend"] == "toy" and info["resolution"] == 32
    with pytest.raises(ClientError) as e:
        GeneratorClient(f"grpc://{serving.grpc_target}", USER_KEY).generate("a", num_images=0)
    assert e.value.code == "INVALID_ARGUMENT"
