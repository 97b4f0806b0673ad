"""Fast serving tests without a Ray cluster: limits and validation, API keys, image codec, best-of-n selection,
the gateway over fake backends, and deploy/serve_local.yaml == `t2ialign serve`."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from t2ialign.common.png import encode_png
from t2ialign.gateway.api import create_app
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.generator.logic import select, validate_params
from t2ialign.paths import REPO_ROOT
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import InvalidArgument, PermissionDenied, Unauthenticated
from t2ialign.serving.images import decode_image

CFG = GeneratorServiceConfig()


def encoded(fmt: str, size: int = 40) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), 120, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


# Image codec -----------------------------------------------------------------------------------------
def test_decode_accepts_png_and_jpeg_and_resizes() -> None:
    assert decode_image(encoded("PNG"), 32).shape == (32, 32, 3)
    assert decode_image(encoded("JPEG")).shape == (40, 40, 3)
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert (decode_image(encode_png(img)) == img).all()  # PNG round trip is lossless


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty"),
        (b"not an image", "not a readable PNG or JPEG"),
        (encoded("PNG")[:40], "not a readable PNG or JPEG"),
        (encoded("GIF"), "send PNG or JPEG"),
        (b"\x89PNG" + b"\0" * (21 * 2**20), "the limit is 20 MiB"),
    ],
)
def test_decode_refuses_bad_images(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        decode_image(data)


# API keys --------------------------------------------------------------------------------------------
def test_api_keys_scopes() -> None:
    keys = ApiKeys.parse("user-key-0123:user, admin-key-0123:admin")
    assert keys.check("Bearer user-key-0123") == "user"
    assert keys.check("bearer admin-key-0123", "admin") == "admin"
    with pytest.raises(PermissionDenied, match="needs 'admin'"):
        keys.check("Bearer user-key-0123", "admin")
    for header in (None, "", "Bearer", "Basic user-key-0123", "Bearer nope-nope-nope"):
        with pytest.raises(Unauthenticated):
            keys.check(header)
    with pytest.raises(Unauthenticated, match="no API keys are configured"):
        ApiKeys.parse("").check("Bearer user-key-0123")


@pytest.mark.parametrize("spec", ["nokey", "k3y-k3y-k3y:root", ":user", "short:user"])
def test_api_keys_parse_fails_fast(spec: str) -> None:
    with pytest.raises(ValueError, match="T2IALIGN_API_KEYS"):
        ApiKeys.parse(spec)


# Generate validation and selection -------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 10_000}, "the limit is 1000"),
        ({"num_images": 0}, "num_images=0"),
        ({"num_images": 10_000}, "num_images=10000"),
        ({"guidance_scale": math.nan}, "guidance_scale=nan"),
        ({"guidance_scale": math.inf}, "guidance_scale=inf"),
        ({"num_inference_steps": 1000}, "num_inference_steps=1000"),
        ({"num_images": 4, "best_of_n": 3}, "best_of_n=3"),
        ({"best_of_n": 65}, "best_of_n=65"),
        ({"min_reward": math.nan}, "min_reward=nan"),
        ({"round": "../etc"}, "round"),
    ],
)
def test_validate_params_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[")):
        validate_params({"prompt": "a red circle", **fields}, CFG)


def test_validate_params_defaults() -> None:
    p = validate_params({"prompt": "a red circle"}, CFG)
    assert (p.num_images, p.seed, p.num_inference_steps, p.guidance_scale, p.round) == (1, 0, 20, 4.0, "serve")
    assert validate_params({"prompt": "a", "guidance_scale": 0.0}, CFG).guidance_scale == 0.0  # 0 is not "unset"


def test_select_best_of_n_and_min_reward() -> None:
    scores = np.array([0.1, 0.5, 0.3, 0.5, -0.2])
    p = validate_params({"prompt": "a", "num_images": 2, "best_of_n": 5}, CFG)
    assert select(scores, scores, p) == [1, 3]  # best first; ties keep generation order
    p = validate_params({"prompt": "a", "num_images": 5, "min_reward": 0.2}, CFG)
    assert select(scores, scores, p) == [1, 2, 3]
    p = validate_params({"prompt": "a", "num_images": 3, "best_of_n": 5, "min_reward": 0.4}, CFG)
    assert select(scores, scores, p) == [1, 3]


# Gateway over fake backends --------------------------------------------------------------------------
class FakeBackends:
    async def score(self, prompts: list[str], images: list) -> dict[str, Any]:
        return {"scores": [1.0] * len(images), "normalized": [0.0] * len(images), "reward_version": "fake"}

    async def rank(self, prompt: str, images: list, k: int) -> dict[str, Any]:
        return {"ranked": [], "reward_version": "fake"}

    async def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        validate_params(request, CFG)
        image = {"key": "images/serve/x.png", "reward": 1.0, "normalized_reward": 0.0, "unet_version": "v"}
        return {
            "images": [{**image, "index": 0, "png": b"\x89PNG"}],
            "unet_version": "v",
            "reward_version": "fake",
            "num_generated": 1,
            "seed": request.get("seed", 0),
        }

    async def models(self) -> dict[str, Any]:
        return {"generator": {}, "reward": {}}

    async def load_unet(self, version: str, prefix: str) -> dict[str, Any]:
        return {"swapped": True}


@pytest.fixture
def gateway() -> TestClient:
    keys = ApiKeys.parse("user-key-0123:user,admin-key-0123:admin")
    return TestClient(create_app(FakeBackends(), keys))


def test_gateway_shapes_and_errors(gateway: TestClient) -> None:
    user = {"Authorization": "Bearer user-key-0123"}
    r = gateway.post("/v1/generate", json={"prompt": "a", "return_images": True}, headers=user)
    assert r.status_code == 200 and r.json()["images"][0]["png_base64"] == "iVBORw=="
    assert gateway.post("/v1/generate", json={"prompt": "a", "num_images": 0}, headers=user).status_code == 400
    assert gateway.post("/v1/generate", json={"prompt": "a", "extra": 1}, headers=user).status_code == 422
    assert gateway.post("/v1/score", json={"prompt": "a", "images": []}, headers=user).status_code == 400
    assert gateway.post("/v1/score", json={"prompt": "a", "images": ["eA=="]}).status_code == 401
    assert gateway.post("/v1/admin/load_unet", json={"version": "v1"}, headers=user).status_code == 403
    admin = {"Authorization": "Bearer admin-key-0123"}
    assert gateway.post("/v1/admin/load_unet", json={"version": "v1"}, headers=admin).json() == {"swapped": True}
    json_user = {**user, "Content-Type": "application/json"}
    nan = gateway.post("/v1/generate", content=b'{"prompt": "a", "guidance_scale": NaN}', headers=json_user)
    assert nan.status_code == 422 and "guidance_scale" in nan.json()["error"]["message"]
    big = {**user, "Content-Length": str(200 * 2**20)}
    assert gateway.post("/v1/score", content=b"{}", headers=big).status_code == 413


# deploy/serve_local.yaml is `t2ialign serve` ---------------------------------------------------------
def test_serve_config_file_matches_t2ialign_serve() -> None:
    from ray.serve.schema import ServeDeploySchema

    from t2ialign.cli import build_parser
    from t2ialign.cli.serve import serve_args
    from t2ialign.serving.app import GRPC_SERVICER_FUNCTIONS, ROUTES, ServeArgs

    raw = yaml.safe_load(Path(REPO_ROOT / "deploy" / "serve_local.yaml").read_text())
    schema = ServeDeploySchema.model_validate(raw)  # a valid Serve config
    cli = serve_args(build_parser().parse_args(["serve"]))
    assert schema.http_options.port == cli.http_port == 8000 and schema.grpc_options.port == cli.grpc_port == 9000
    assert schema.http_options.host == cli.http_host
    assert list(schema.grpc_options.grpc_servicer_functions) == GRPC_SERVICER_FUNCTIONS
    apps = {a["name"]: a for a in raw["applications"]}
    assert {n: a["route_prefix"] for n, a in apps.items()} == ROUTES
    from_file = ServeArgs.model_validate({n: apps[n]["args"] for n in ROUTES} | {"http_host": cli.http_host})
    assert from_file == cli
