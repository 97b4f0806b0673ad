"""Admin REST routes for training jobs (the trainer service's TrainerService over HTTP), admin scope only.

    POST /v1/admin/jobs/reward          start reward-model training   (body: RewardJobBody)
    POST /v1/admin/jobs/finetune        start UNet fine-tuning        (body: FinetuneJobBody)
    GET  /v1/admin/jobs                 list, newest first            (?kind=&state=&page_size=&page_token=)
    GET  /v1/admin/jobs/{job_id}        one job
    POST /v1/admin/jobs/{job_id}/cancel stop a queued or running job

Fields and limits are trainer.proto's; 0 (or null for optional fields) means the recipe default.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class JobBackend(Protocol):
    async def start_job(self, kind: str, request: dict[str, Any]) -> dict[str, Any]: ...
    async def get_job(self, job_id: str) -> dict[str, Any]: ...
    async def list_jobs(self, kind: str, state: str, page_size: int, page_token: str) -> dict[str, Any]: ...
    async def cancel_job(self, job_id: str) -> dict[str, Any]: ...


class JobBody(BaseModel):
    model_config = _STRICT
    round_ids: list[str] = Field(description="Rounds whose data (images/<round>/, feedback/<round>/) is used")
    seed: int = Field(0, description="RNG seed, 0..2^63-1")
    request_id: str = Field("", description="Idempotency key: the same id returns the same job")
    num_workers: int = Field(0, description="Data-parallel training workers, 0..64; 0 = the trainer's default")
    learning_rate: float = Field(0, description="AdamW learning rate in (0, 1]; 0 = recipe default")
    batch_size: int = Field(0, description="Samples per optimizer step, 0..4096; 0 = recipe default")


class RewardJobBody(JobBody):
    init_reward_version: str = Field("", description="Reward version to continue from; empty = a fresh head")
    num_epochs: int = Field(0, description="Passes over the labels, 0..1000; 0 = recipe default")
    aux_loss_weight: float | None = Field(None, description="Weight of L_pc (Eq. 2), >= 0; null = recipe default")
    val_fraction: float | None = Field(None, description="Labels held out for validation, [0, 0.5]; null = 0.1")


class FinetuneJobBody(JobBody):
    base_unet_version: str = Field("", description="UNet to fine-tune; empty = the serving version")
    reward_version: str = Field("", description="Reward model weighting Eq. 3; empty = the serving version")
    num_train_steps: int = Field(0, description="Optimizer steps, 0..1000000; 0 = recipe default")
    pretrain_loss_weight: float | None = Field(None, description="beta of Eq. 3, >= 0; null = recipe default")
    use_lora: bool = Field(False, description="Train LoRA adapters (merged on export) instead of all weights")
    num_inference_steps: int = Field(0, description="Evaluation sampling steps, 0..200; 0 = recipe default")
    guidance_scale: float | None = Field(None, description="Evaluation guidance, 0..50; null = recipe default")
    recipe: str = Field("", description='Named recipe the knobs override: "default" or "round"; empty = default')


def jobs_router(backend: JobBackend, admin: Any) -> APIRouter:
    """The routes above; `admin` is the gateway's admin-scope dependency."""
    router = APIRouter(prefix="/v1/admin/jobs", tags=["jobs"], dependencies=[admin])

    @router.post("/reward")
    async def start_reward(body: RewardJobBody) -> dict[str, Any]:
        return await backend.start_job("reward", body.model_dump())

    @router.post("/finetune")
    async def start_finetune(body: FinetuneJobBody) -> dict[str, Any]:
        return await backend.start_job("finetune", body.model_dump())

    @router.get("")
    async def list_jobs(
        kind: Literal["", "reward", "finetune"] = "",
        state: Literal["", "queued", "running", "succeeded", "failed", "cancelled"] = "",
        page_size: int = Query(0, ge=0, le=1000),
        page_token: str = "",
    ) -> dict[str, Any]:
        return await backend.list_jobs(kind, state, page_size, page_token)

    @router.get("/{job_id}")
    async def get_job(job_id: str) -> dict[str, Any]:
        return await backend.get_job(job_id)

    @router.post("/{job_id}/cancel")
    async def cancel_job(job_id: str) -> dict[str, Any]:
        return await backend.cancel_job(job_id)

    return router
