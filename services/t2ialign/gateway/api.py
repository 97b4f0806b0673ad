"""The public REST API, as a plain FastAPI app over a `Backends` protocol (tested without Ray).

Routes: POST /v1/score, POST /v1/rank, POST /v1/generate, GET /v1/models, POST /v1/admin/load_unet,
/v1/admin/jobs/* (jobs_api.py), rounds and feedback (rounds_api.py), the labeling page /label and its API
/v1/label/*, /v1/admin/label/stats, /v1/admin/feedback/export (labeling_api.py),
GET /healthz; OpenAPI docs at /docs. Auth: `Authorization: Bearer <key>` (see t2ialign.serving.auth).
Errors: {"error": {"code": <gRPC code name>, "message": <what to change>}} with a 4xx/5xx status.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from t2ialign.gateway.config import GatewayConfig
from t2ialign.gateway.jobs_api import jobs_router
from t2ialign.gateway.labeling_api import add_label_routes
from t2ialign.gateway.rounds_api import RoundBackend, add_round_routes
from t2ialign.serving import limits
from t2ialign.serving.auth import ApiKeys, Caller
from t2ialign.serving.errors import InvalidArgument, ServiceError
from t2ialign.serving.requests import ImageInput

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class Backends(Protocol):
    async def score(self, prompts: list[str], images: list[ImageInput]) -> dict[str, Any]: ...
    async def rank(self, prompt: str, images: list[ImageInput], k: int) -> dict[str, Any]: ...
    async def generate(self, request: dict[str, Any]) -> dict[str, Any]: ...
    async def models(self) -> dict[str, Any]: ...
    async def load_unet(self, version: str, prefix: str) -> dict[str, Any]: ...

    # and the training-job methods of jobs_api.JobBackend


# Request and response bodies ------------------------------------------------------------------------
class ScoreBody(BaseModel):
    model_config = _STRICT
    prompt: str = Field(description=f"Prompt for every image, 1..{limits.MAX_PROMPT_CHARS} characters")
    images: list[str] = Field(default=[], description="Base64 PNG or JPEG images (each at most 20 MiB decoded)")
    keys: list[str] = Field(default=[], description="Object-store keys of images, e.g. images/serve/<id>.png")


class ScoreResult(BaseModel):
    scores: list[float] = Field(description="Raw reward r_phi(x, z) per image, images first, then keys")
    normalized: list[float] = Field(
        description="(score - mean) / std over the reward model's calibration set (for the shipped r_phi: the base "
        "generator's samples of the feedback prompts); the scale of min_reward"
    )
    reward_version: str


class RankBody(ScoreBody):
    k: int = Field(0, ge=0, le=limits.MAX_SCORE_IMAGES, description="How many to return; 0 = all, sorted")


class GenerateBody(BaseModel):
    model_config = _STRICT
    prompt: str = Field(description=f"1..{limits.MAX_PROMPT_CHARS} characters")
    num_images: int = Field(1, description=f"Images to return, 1..{limits.MAX_NUM_IMAGES}")
    seed: int = Field(0, description="Seed of the initial noise, 0..2^63-1; same request + seed = same images")
    num_inference_steps: int | None = Field(None, description=f"1..{limits.MAX_INFERENCE_STEPS}; null = default")
    guidance_scale: float | None = Field(None, description="Classifier-free guidance, finite, 0..50; null = default")
    best_of_n: int = Field(
        0, description=f"Generate n, keep the num_images best by reward; 0 = off, ..{limits.MAX_BEST_OF_N}"
    )
    min_reward: float | None = Field(None, description="Drop images whose normalized reward is below this")
    return_images: bool = Field(False, description="Include base64 PNG bytes in the response")
    round: str | None = Field(None, description="Object-store folder images/<round>/; null = 'serve'")


class GeneratedImageOut(BaseModel):
    key: str
    reward: float
    normalized_reward: float
    unet_version: str
    index: int = Field(description="Position among the images generated for this request")
    png_base64: str = Field("", description="Empty unless return_images")


class GenerateResult(BaseModel):
    images: list[GeneratedImageOut]
    unet_version: str
    reward_version: str
    num_generated: int
    seed: int


class LoadUnetBody(BaseModel):
    model_config = _STRICT
    version: str = Field(description="UNet version under models/unet/<version>/")
    prefix: str = Field("", description="Object-store prefix; empty = models/unet/<version>/")


# The app ----------------------------------------------------------------------------------------------
def decode_images(images: list[str], keys: list[str]) -> list[ImageInput]:
    """Base64 strings and keys -> ImageInput; size is checked here so huge images never travel further."""
    out = []
    for i, b64 in enumerate(images):
        if len(b64) * 3 // 4 > limits.MAX_IMAGE_BYTES + 3:
            raise InvalidArgument(
                f"image {i} is about {len(b64) * 3 / 4 / 2**20:.1f} MiB; the limit is "
                f"{limits.MAX_IMAGE_BYTES // 2**20} MiB. Downscale it or re-encode it as JPEG."
            )
        try:
            out.append(ImageInput(data=base64.b64decode(b64, validate=True)))
        except (binascii.Error, ValueError) as e:
            raise InvalidArgument(f"image {i} is not valid base64 ({e}); send standard base64 of PNG/JPEG") from e
    out += [ImageInput(key=k) for k in keys]
    if not out:
        raise InvalidArgument("no images; send 'images' (base64 PNG/JPEG) or 'keys' (object-store keys)")
    return out


def create_app(
    backends: Backends, api_keys: ApiKeys, cfg: GatewayConfig | None = None, rounds: RoundBackend | None = None
) -> FastAPI:
    cfg = cfg or GatewayConfig()
    app = FastAPI(
        title="t2ialign gateway",
        version="1",
        description="Reward scoring and text-to-image generation with serve-time reward filtering "
        "(Lee et al. 2023). Send `Authorization: Bearer <key>`.",
    )

    def require(scope: str):
        def dep(request: Request) -> str:
            return api_keys.check(request.headers.get("authorization"), scope)

        return dep

    user, admin = Depends(require("user")), Depends(require("admin"))

    def caller_of(scope: str):
        def dep(request: Request) -> Caller:
            return api_keys.caller(request.headers.get("authorization"), scope)

        return Depends(dep)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, e: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.http_status == 401 else None
        body = {"error": {"code": e.grpc_code, "message": e.message}}
        return JSONResponse(body, status_code=e.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, e: RequestValidationError) -> JSONResponse:
        # Our own shape, and no echo of the input (a NaN in it would not even serialize to JSON).
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        return JSONResponse({"error": {"code": "INVALID_ARGUMENT", "message": problems}}, status_code=422)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > cfg.max_body_mb * 2**20:
            msg = f"request body is {int(size) / 2**20:.1f} MiB; the limit is {cfg.max_body_mb:g} MiB"
            return JSONResponse({"error": {"code": "INVALID_ARGUMENT", "message": msg}}, status_code=413)
        return await call_next(request)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/score", response_model=ScoreResult, tags=["reward"], dependencies=[user])
    async def score(body: ScoreBody) -> dict[str, Any]:
        return await backends.score([body.prompt], decode_images(body.images, body.keys))

    @app.post("/v1/rank", tags=["reward"], dependencies=[user])
    async def rank(body: RankBody) -> dict[str, Any]:
        return await backends.rank(body.prompt, decode_images(body.images, body.keys), body.k)

    @app.post("/v1/generate", response_model=GenerateResult, tags=["generator"], dependencies=[user])
    async def generate(body: GenerateBody) -> dict[str, Any]:
        r = await backends.generate(body.model_dump(exclude_none=True))
        for im in r["images"]:
            im["png_base64"] = base64.b64encode(im.pop("png", b"")).decode()
        return r

    @app.get("/v1/models", tags=["ops"], dependencies=[user])
    async def models() -> dict[str, Any]:
        return await backends.models()

    @app.post("/v1/admin/load_unet", tags=["admin"], dependencies=[admin])
    async def load_unet(body: LoadUnetBody) -> dict[str, Any]:
        """Hot-swap the UNet on one generator replica (the coordinator's Promote reaches every replica)."""
        return await backends.load_unet(body.version, body.prefix)

    if rounds is not None:
        add_round_routes(app, rounds, admin, caller_of("feedback"))
        add_label_routes(app, rounds, api_keys, admin, caller_of("rater"))
    app.include_router(jobs_router(backends, admin))
    return app
