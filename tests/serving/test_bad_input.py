"""Bad input is refused with a clear error (gRPC INVALID_ARGUMENT / UNAUTHENTICATED, HTTP 4xx), and the
service keeps serving afterwards."""

from __future__ import annotations

import base64
import math
import os

import grpc
import httpx
import pytest

from t2ialign.v1 import common_pb2, generator_pb2, generator_pb2_grpc, reward_pb2, reward_pb2_grpc

from .conftest import Serving
from .test_grpc import md, png

pytestmark = pytest.mark.integration

GOOD_PNG = png(0)
CORRUPT_PNG = GOOD_PNG[: len(GOOD_PNG) // 2]  # a truncated PNG: the header parses, decoding fails
HUGE_IMAGE = b"\x89PNG\r\n\x1a\n" + os.urandom(50 * 2**20)  # 50 MB

SCORE_CASES = {
    "corrupt image": (["a red circle"], [CORRUPT_PNG], "not a readable PNG or JPEG"),
    "50 MB image": (["a red circle"], [HUGE_IMAGE], "the limit is 20 MiB"),
    "zero images": (["a red circle"], [], "no images"),
    "empty prompt": ([""], [GOOD_PNG], "prompt 0 is empty"),
    "10,000-character prompt": (["x" * 10_000], [GOOD_PNG], "the limit is 1000"),
    "prompt count mismatch": (["a", "b"], [GOOD_PNG] * 3, "got 2 prompts for 3 images"),
}
GENERATE_CASES = {
    "num_images 0": ({"num_images": 0}, "num_images=0"),
    "num_images 10,000": ({"num_images": 10_000}, "num_images=10000"),
    "NaN guidance_scale": ({"num_images": 1, "guidance_scale": math.nan}, "guidance_scale=nan"),
    "empty prompt": ({"num_images": 1, "prompt": ""}, "prompt is empty"),
    "10,000-character prompt": ({"num_images": 1, "prompt": "x" * 10_000}, "the limit is 1000"),
    "best_of_n below num_images": ({"num_images": 4, "best_of_n": 2}, "best_of_n=2"),
}


def still_serving(s: Serving) -> None:
    r = reward_pb2_grpc.RewardServiceStub(s.channel).Score(
        reward_pb2.ScoreRequest(prompts=["ok"], images=[common_pb2.ImageRef(data=GOOD_PNG)]),
        metadata=md("reward"),
        timeout=60,
    )
    assert len(r.scores) == 1


@pytest.mark.parametrize("case", list(SCORE_CASES))
def test_grpc_score_refuses(serving: Serving, case: str) -> None:
    prompts, images, message = SCORE_CASES[case]
    req = reward_pb2.ScoreRequest(prompts=prompts, images=[common_pb2.ImageRef(data=d) for d in images])
    with pytest.raises(grpc.RpcError) as e:
        reward_pb2_grpc.RewardServiceStub(serving.channel).Score(req, metadata=md("reward"), timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in e.value.details()
    still_serving(serving)


def test_grpc_score_unknown_key_is_not_found(serving: Serving) -> None:
    req = reward_pb2.ScoreRequest(prompts=["a"], images=[common_pb2.ImageRef(key="images/serve/missing.png")])
    with pytest.raises(grpc.RpcError) as e:
        reward_pb2_grpc.RewardServiceStub(serving.channel).Score(req, metadata=md("reward"), timeout=60)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    req = reward_pb2.ScoreRequest(prompts=["a"], images=[common_pb2.ImageRef(key="../../etc/passwd")])
    with pytest.raises(grpc.RpcError) as e:
        reward_pb2_grpc.RewardServiceStub(serving.channel).Score(req, metadata=md("reward"), timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "traversal" in e.value.details()


@pytest.mark.parametrize("case", list(GENERATE_CASES))
def test_grpc_generate_refuses(serving: Serving, case: str) -> None:
    fields, message = GENERATE_CASES[case]
    req = generator_pb2.GenerateRequest(**{"prompt": "a red circle", **fields})
    with pytest.raises(grpc.RpcError) as e:
        generator_pb2_grpc.GeneratorServiceStub(serving.channel).Generate(req, metadata=md("generator"), timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in e.value.details()


@pytest.mark.parametrize("metadata", [[("application", "reward")], md("reward", "wrong-key-0000")])
def test_grpc_missing_or_wrong_key_is_unauthenticated(serving: Serving, metadata: list) -> None:
    req = reward_pb2.ScoreRequest(prompts=["a"], images=[common_pb2.ImageRef(data=GOOD_PNG)])
    with pytest.raises(grpc.RpcError) as e:
        reward_pb2_grpc.RewardServiceStub(serving.channel).Score(req, metadata=metadata, timeout=60)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "API key" in e.value.details()
    still_serving(serving)


# REST -----------------------------------------------------------------------------------------------
def post(s: Serving, path: str, body: dict, key: str | None = "user-key-0123") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(s.http + path, json=body, headers=headers, timeout=120)


@pytest.mark.parametrize("case", list(SCORE_CASES))
def test_rest_score_refuses(serving: Serving, case: str) -> None:
    prompts, images, message = SCORE_CASES[case]
    if case == "prompt count mismatch":
        pytest.skip("REST takes one prompt for all images")
    body = {"prompt": prompts[0], "images": [base64.b64encode(d).decode() for d in images]}
    r = post(serving, "/v1/score", body)
    assert 400 <= r.status_code < 500, r.text
    assert message in r.json()["error"]["message"]
    assert post(serving, "/v1/score", {"prompt": "ok", "images": [base64.b64encode(GOOD_PNG).decode()]}).is_success


@pytest.mark.parametrize("case", list(GENERATE_CASES))
def test_rest_generate_refuses(serving: Serving, case: str) -> None:
    fields, message = GENERATE_CASES[case]
    if case == "NaN guidance_scale":  # JSON has no NaN; Python's json writes the NaN token, pydantic refuses it
        r = httpx.post(
            serving.http + "/v1/generate",
            content='{"prompt": "a red circle", "guidance_scale": NaN}',
            headers={"Authorization": "Bearer user-key-0123", "Content-Type": "application/json"},
            timeout=60,
        )
        assert r.status_code == 422 and "guidance_scale" in r.json()["error"]["message"], r.text
        return
    r = post(serving, "/v1/generate", {"prompt": "a red circle", **fields})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT" and message in r.json()["error"]["message"]


@pytest.mark.parametrize("key", [None, "wrong-key-0000"])
def test_rest_missing_or_wrong_key_is_401(serving: Serving, key: str | None) -> None:
    r = post(serving, "/v1/score", {"prompt": "a", "images": [base64.b64encode(GOOD_PNG).decode()]}, key=key)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "API key" in r.json()["error"]["message"]


def test_rest_user_key_cannot_swap_models(serving: Serving) -> None:
    r = post(serving, "/v1/admin/load_unet", {"version": "anything"})
    assert r.status_code == 403 and "admin" in r.json()["error"]["message"]


def test_rest_bad_base64_and_wrong_types(serving: Serving) -> None:
    r = post(serving, "/v1/score", {"prompt": "a", "images": ["not base64!"]})
    assert r.status_code == 400 and "base64" in r.json()["error"]["message"]
    r = post(serving, "/v1/generate", {"prompt": "a", "num_images": "many"})
    assert r.status_code == 422
