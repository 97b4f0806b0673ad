"""REST routes of the coordinator (rounds, labels, promotion): POST /v1/feedback (user or rater scope), and the admin
routes POST /v1/admin/rounds, GET /v1/admin/rounds/{id}, POST /v1/admin/promote, POST /v1/admin/rollback,
GET /v1/admin/status. Bodies mirror coordinator.proto; errors use the gateway's shape and status codes."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from fastapi import FastAPI
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field

from t2ialign.serving.auth import Caller

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class RoundBackend(Protocol):
    async def start_round(self, fields: dict[str, Any]) -> dict[str, Any]: ...
    async def get_round(self, round_id: str) -> dict[str, Any]: ...
    async def submit_feedback(self, round_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]: ...
    async def promote(self, kind: str, version: str, skip_gate: bool, reason: str) -> dict[str, Any]: ...
    async def rollback(self, kind: str, version: str, reason: str) -> dict[str, Any]: ...
    async def status(self, history_limit: int) -> dict[str, Any]: ...
    async def label_next(self, round_id: str, rater: str, exclude: list[str]) -> dict[str, Any]: ...
    async def label_image(self, key: str) -> bytes: ...
    async def label_export(self, round_id: str) -> list[dict[str, Any]]: ...
    async def label_stats(self, round_id: str, limit: int) -> list[dict[str, Any]]: ...


class LabelBody(BaseModel):
    model_config = _STRICT
    label_id: str = Field(description="Idempotency id, 1..128 of [A-Za-z0-9._-]; re-sending it is harmless")
    image_key: str = Field(description="images/<round>/<id>.png, an image of this round")
    choice: Literal["good", "bad", "skip"] | None = Field(None, description="good, bad or skip; or give rating")
    rating: float | None = Field(None, ge=0, le=1, description="1 good, 0 bad; used when choice is unset")
    rater_id: str = Field("", max_length=128, description="Pseudonymous rater id")


class FeedbackBody(BaseModel):
    model_config = _STRICT
    round_id: str
    labels: list[LabelBody] = Field(min_length=1, max_length=1000)


class StartRoundBody(BaseModel):
    model_config = _STRICT
    prompts: list[str] = Field([], max_length=10_000, description="Empty = the toy grammar's feedback prompts")
    num_images: int = Field(0, ge=0, le=16, description="Images per prompt; 0 = the coordinator's default")
    seed: int = Field(0, ge=0, le=2**63 - 1)
    num_inference_steps: int = Field(0, ge=0, le=200, description="0 = the generator's default")
    guidance_scale: float | None = Field(None, ge=0, le=50)
    labels_to_train: int = Field(0, ge=0, le=1_000_000, description="0 = one per image (people raters)")
    auto_promote: bool = False
    round_id: str = Field("", max_length=64, description="Empty = generated; an existing id returns that round")
    raters: Literal["simulated", "people", ""] = ""


class PromoteBody(BaseModel):
    model_config = _STRICT
    kind: Literal["unet", "reward"] = "unet"
    version: str = Field(min_length=1, max_length=128)
    skip_gate: bool = False
    reason: str = Field("", max_length=1024)


class RollbackBody(BaseModel):
    model_config = _STRICT
    kind: Literal["unet", "reward"] = "unet"
    version: str = Field("", max_length=128, description="Empty = the version before the current one")
    reason: str = Field("", max_length=1024)


def add_round_routes(app: FastAPI, backend: RoundBackend, admin: Depends, feedback_caller: Depends) -> None:
    @app.post("/v1/feedback", tags=["feedback"])
    async def submit_feedback(body: FeedbackBody, caller: Caller = feedback_caller) -> dict[str, Any]:
        """Store labels durably, then acknowledge; re-sending a label id is harmless. A rater key's labels
        carry the key's identity as rater_id (whatever the body says); user and admin keys may name one."""
        labels = [x.model_dump(exclude_none=True) for x in body.labels]
        if caller.scope == "rater":
            labels = [{**x, "rater_id": caller.identity} for x in labels]
        return await backend.submit_feedback(body.round_id, labels)

    @app.post("/v1/admin/rounds", tags=["admin"], dependencies=[admin])
    async def start_round(body: StartRoundBody) -> dict[str, Any]:
        return await backend.start_round(body.model_dump(exclude_none=True))

    @app.get("/v1/admin/rounds/{round_id}", tags=["admin"], dependencies=[admin])
    async def get_round(round_id: str) -> dict[str, Any]:
        return await backend.get_round(round_id)

    @app.post("/v1/admin/promote", tags=["admin"], dependencies=[admin])
    async def promote(body: PromoteBody) -> dict[str, Any]:
        """Move the serving pointer and hot-swap every generator replica; per-replica results."""
        return await backend.promote(body.kind, body.version, body.skip_gate, body.reason)

    @app.post("/v1/admin/rollback", tags=["admin"], dependencies=[admin])
    async def rollback(body: RollbackBody) -> dict[str, Any]:
        return await backend.rollback(body.kind, body.version, body.reason)

    @app.get("/v1/admin/status", tags=["admin"], dependencies=[admin])
    async def status(history_limit: int = 20) -> dict[str, Any]:
        return await backend.status(history_limit)
