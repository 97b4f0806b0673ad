"""Trainer service as a Ray Serve deployment: gRPC TrainerService (via the Serve gRPC proxy) and Python methods
for the gateway's admin routes. The replica only validates, records and launches: each job runs in a
detached runner actor (runner.py), so replicas hold no training state and take 0 CPU.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from ray import serve
from starlette.responses import JSONResponse

from t2ialign.serving import storage
from t2ialign.serving.auth import ApiKeys, metadata_authorization
from t2ialign.serving.errors import FailedPrecondition, InvalidArgument, NotFound, check
from t2ialign.serving.grpc_errors import grpc_method
from t2ialign.trainer import jobs, specs
from t2ialign.trainer.config import TrainerServiceConfig
from t2ialign.trainer.jobs import JobRecord
from t2ialign.trainer.runner import describe, launch, needed_resources, runner_name
from t2ialign.v1 import trainer_pb2

ORPHAN_AFTER_S = 60.0  # a non-terminal record whose runner is gone for this long is marked FAILED
KIND_NAMES = {v: k for k, v in jobs.KIND_PROTO.items()}
STATE_NAMES = {v: k for k, v in jobs.STATE_PROTO.items()}
OPTIONAL_FIELDS = ("aux_loss_weight", "val_fraction", "pretrain_loss_weight", "guidance_scale")


def request_dict(request: Any) -> dict[str, Any]:
    """A Start* proto as the dict specs.py reads: unset optional fields are None, repeated fields lists."""
    out: dict[str, Any] = {}
    for f in request.DESCRIPTOR.fields:
        if f.name in OPTIONAL_FIELDS:
            out[f.name] = getattr(request, f.name) if request.HasField(f.name) else None
        else:
            value = getattr(request, f.name)
            out[f.name] = value if isinstance(value, str | bytes | int | float) else list(value)  # repeated
    return out


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0})
class TrainerDeployment:
    def __init__(self, config: dict[str, Any] | None = None):
        self.cfg = TrainerServiceConfig(**(config or {}))
        self.store = storage.connect(self.cfg.store_url)
        self.api_keys = ApiKeys.from_env()

    async def __call__(self, request: Any) -> JSONResponse:
        msg = "use gRPC t2ialign.v1.TrainerService (metadata application=trainer) or the gateway's /v1/admin/jobs"
        return JSONResponse({"error": {"code": "NOT_FOUND", "message": msg}}, status_code=404)

    # In-cluster Python API (the gateway's admin routes); JSON in, JSON out -------------------------
    async def start_job(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        return jobs.to_json(await self._start(kind, request))

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return jobs.to_json(await self._get(job_id))

    async def list_jobs(self, kind: str = "", state: str = "", page_size: int = 0, page_token: str = "") -> dict:
        page, token = await self._list(kind, state, page_size, page_token)
        return {"jobs": [jobs.to_json(j) for j in page], "next_page_token": token}

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return jobs.to_json(await self._cancel(job_id))

    # gRPC (t2ialign.v1.TrainerService) -------------------------------------------------------------
    @grpc_method(trainer_pb2.StartRewardTrainingResponse)
    async def StartRewardTraining(self, request: Any, grpc_context: Any = None) -> Any:
        self._auth(grpc_context)
        job = await self._start("reward", request_dict(request))
        return trainer_pb2.StartRewardTrainingResponse(job=jobs.to_proto(job))

    @grpc_method(trainer_pb2.StartFinetuneResponse)
    async def StartFinetune(self, request: Any, grpc_context: Any = None) -> Any:
        self._auth(grpc_context)
        job = await self._start("finetune", request_dict(request))
        return trainer_pb2.StartFinetuneResponse(job=jobs.to_proto(job))

    @grpc_method(trainer_pb2.GetJobResponse)
    async def GetJob(self, request: Any, grpc_context: Any = None) -> Any:
        self._auth(grpc_context)
        return trainer_pb2.GetJobResponse(job=jobs.to_proto(await self._get(request.job_id)))

    @grpc_method(trainer_pb2.ListJobsResponse)
    async def ListJobs(self, request: Any, grpc_context: Any = None) -> Any:
        self._auth(grpc_context)
        kind = KIND_NAMES.get(request.kind, "")
        state = STATE_NAMES.get(request.state, "")
        page, token = await self._list(kind, state, int(request.page_size), request.page_token)
        return trainer_pb2.ListJobsResponse(jobs=[jobs.to_proto(j) for j in page], next_page_token=token)

    @grpc_method(trainer_pb2.CancelJobResponse)
    async def CancelJob(self, request: Any, grpc_context: Any = None) -> Any:
        self._auth(grpc_context)
        return trainer_pb2.CancelJobResponse(job=jobs.to_proto(await self._cancel(request.job_id)))

    def _auth(self, grpc_context: Any) -> None:
        metadata = grpc_context.invocation_metadata() if grpc_context else None
        self.api_keys.check(metadata_authorization(metadata), "admin")

    # The work ---------------------------------------------------------------------------------------
    async def _start(self, kind: str, request: dict[str, Any]) -> JobRecord:
        # 1. Validate the knobs, then the inputs against the store; nothing is started on any error.
        make_spec = {"reward": specs.reward_spec, "finetune": specs.finetune_spec}
        check(kind in make_spec, f"job kind {kind!r} is unknown; valid: {', '.join(make_spec)}")
        spec = make_spec[kind](request, self.cfg.num_workers)
        spec = await asyncio.to_thread(
            storage.store_call, lambda: specs.resolve_inputs(self.store, spec), "checking the job's inputs"
        )
        self._check_capacity(spec["num_workers"])
        # 2. A repeated request id returns its job.
        job = JobRecord(
            job_id=jobs.new_job_id(kind),
            kind=kind,
            spec=spec,
            request_id=spec["request_id"],
            num_workers=spec["num_workers"],
            input_version=spec.get("init_reward_version") or spec.get("base_unet_version") or "",
        )
        if job.request_id:
            bound = await asyncio.to_thread(jobs.claim_request, self.store, job.request_id, job.job_id)
            if bound != job.job_id:
                return await self._get(bound)
        # 3. Record it (QUEUED), then hand it to its runner.
        await asyncio.to_thread(jobs.save, self.store, job)
        launch(job, self.cfg)
        return job

    def _check_capacity(self, num_workers: int) -> None:
        """Refuse a job the whole cluster could never hold (busy resources only make a job wait)."""
        if not self.cfg.check_cluster_capacity:
            return
        need, total = needed_resources(self.cfg, num_workers), ray.cluster_resources()
        if any(total.get(k, 0.0) < v - 1e-9 for k, v in need.items()):
            raise FailedPrecondition(
                f"the job needs {describe(need)} for {num_workers} worker(s) but the whole cluster has "
                f"{describe({k: total.get(k, 0.0) for k in need})}; ask for fewer workers or add nodes"
            )

    async def _get(self, job_id: str) -> JobRecord:
        try:
            job_id = jobs.validate_id(job_id, "job id")
        except ValueError as e:
            raise InvalidArgument(str(e)) from e
        job = await asyncio.to_thread(jobs.load, self.store, job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist; list jobs with ListJobs")
        return job if job.terminal else await self._live(job)

    async def _live(self, stored: JobRecord) -> JobRecord:
        """The runner's live record; a record whose runner is gone is marked FAILED (after a grace period)."""
        try:
            actor = ray.get_actor(runner_name(stored.job_id), namespace=self.cfg.namespace)
            live = JobRecord.from_dict(await asyncio.wait_for(actor.get.remote(), timeout=10))
            return live
        except (ValueError, ray.exceptions.RayActorError, TimeoutError):
            latest = await asyncio.to_thread(jobs.load, self.store, stored.job_id)  # it may have just finished
            if latest is not None and latest.terminal:
                return latest
            if time.time() - stored.created_at < ORPHAN_AFTER_S:
                return stored
            stored.state, stored.finished_at = "failed", time.time()
            stored.error = "the job's runner actor is gone (its node died or it was killed); start the job again"
            return await asyncio.to_thread(jobs.save, self.store, stored)

    async def _list(self, kind: str, state: str, page_size: int, page_token: str) -> tuple[list[JobRecord], str]:
        check(0 <= page_size <= 1000, f"page_size is {page_size}; use 0..1000 (0 = 50)")
        check(page_token == "" or page_token.isdigit(), "page_token is not one this service issued; send it back as is")
        ids = await asyncio.to_thread(jobs.list_ids, self.store)
        found = await asyncio.gather(*(self._get(i) for i in ids))
        matching = [j for j in found if (not kind or j.kind == kind) and (not state or j.state == state)]
        matching.sort(key=lambda j: (j.created_at, j.job_id), reverse=True)
        start, size = int(page_token or 0), page_size or 50
        end = start + size
        return matching[start:end], str(end) if end < len(matching) else ""

    async def _cancel(self, job_id: str) -> JobRecord:
        job = await self._get(job_id)
        if job.terminal:
            return job
        try:
            actor = ray.get_actor(runner_name(job.job_id), namespace=self.cfg.namespace)
            await actor.cancel.remote()
        except (ValueError, ray.exceptions.RayActorError):
            return await self._get(job_id)
        deadline = time.monotonic() + self.cfg.cancel_grace_s + 5
        while time.monotonic() < deadline:  # the stop flag is read between steps; wait for the result
            job = await self._get(job_id)
            if job.terminal:
                return job
            await asyncio.sleep(0.25)
        return job
