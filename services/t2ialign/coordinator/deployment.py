"""Coordinator service as a Ray Serve deployment: gRPC CoordinatorService (via the Serve gRPC proxy), Python
methods for the gateway's REST routes, and the round runner on a daemon thread. Run one replica: it is the
only writer of rounds and the only one to move the serving pointers."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from ray import serve
from starlette.responses import JSONResponse

from t2ialign.coordinator import feedback
from t2ialign.coordinator.clients import ServiceCalls
from t2ialign.coordinator.config import CoordinatorConfig
from t2ialign.coordinator.labeling import Labeling
from t2ialign.coordinator.promotion import POINTERS, Promoter
from t2ialign.coordinator.replicas import ServeReplicas
from t2ialign.coordinator.rounds import RoundRunner
from t2ialign.coordinator.state import STATES, TERMINAL
from t2ialign.serving import storage
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import FailedPrecondition, check
from t2ialign.serving.grpc_errors import grpc_method
from t2ialign.store import pointer_history
from t2ialign.v1 import common_pb2, coordinator_pb2

log = logging.getLogger("t2ialign.coordinator")
KINDS = {common_pb2.MODEL_KIND_UNET: "unet", common_pb2.MODEL_KIND_REWARD: "reward"}
KIND_PB = {v: k for k, v in KINDS.items()}


def _ts(iso: str) -> Timestamp:
    t = Timestamp()
    t.FromJsonString(iso.replace("+00:00", "Z"))
    return t


def _version_pb(kind: str, v: dict[str, str] | None) -> common_pb2.ModelVersion | None:
    if not v:
        return None
    return common_pb2.ModelVersion(kind=KIND_PB[kind], version=v["version"], prefix=v.get("prefix", ""))


def _swaps_pb(replicas: list[dict[str, Any]]) -> list[coordinator_pb2.ReplicaSwap]:
    return [
        coordinator_pb2.ReplicaSwap(replica_id=r["replica_id"], version=r["version"], error=r["error"])
        for r in replicas
    ]


def round_pb(r: dict[str, Any]) -> coordinator_pb2.Round:
    return coordinator_pb2.Round(
        round_id=r["round_id"],
        state=STATES.index(r["state"]) + 1,
        num_prompts=r["num_prompts"],
        num_generated=r.get("num_generated", 0),
        num_labels=r.get("num_labels", 0),
        labels_to_train=r["labels_to_train"],
        unet_version=_version_pb("unet", r["unet_version"]),
        candidate_reward=_version_pb("reward", r["candidate_reward"]),
        candidate_unet=_version_pb("unet", r["candidate_unet"]),
        job_ids=r["job_ids"],
        metrics=r["metrics"],
        error=r["error"],
        created_at=_ts(r["created_at"]),
        updated_at=_ts(r["updated_at"]),
        raters=r["raters"],
        replicas=_swaps_pb(r["replicas"]),
    )


def _move_pb(cls: Any, kind: str, out: dict[str, Any]) -> Any:
    previous = {"version": out["previous"]} if out["previous"] else None
    return cls(
        serving=_version_pb(kind, {"version": out["serving"]}),
        previous=_version_pb(kind, previous),
        replicas=_swaps_pb(out["replicas"]) if kind == "unet" else [],
    )


def _entries_pb(history: list[dict[str, Any]]) -> list[common_pb2.PointerEntry]:
    return [
        common_pb2.PointerEntry(seq=e["seq"], version=e["version"], set_at=_ts(e["set_at"]), reason=e["reason"])
        for e in history
    ]


def _kind(value: Any) -> str:
    kind = KINDS.get(value) if isinstance(value, int) else value
    check(kind in POINTERS, f"kind {value!r} is unknown; use unet (MODEL_KIND_UNET) or reward (MODEL_KIND_REWARD)")
    return kind


@serve.deployment(num_replicas=1, max_ongoing_requests=32, ray_actor_options={"num_cpus": 0})
class CoordinatorDeployment:
    def __init__(self, config: dict[str, Any] | None = None):
        self.cfg = CoordinatorConfig(**(config or {}))
        self.store = storage.connect(self.cfg.store_url)
        self.api_keys = ApiKeys.from_env()
        t = self.cfg.swap_timeout_s
        generators = ServeReplicas(
            self.cfg.generator_app, self.cfg.generator_deployment, "load_unet", "serving_version", t
        )
        rewards = ServeReplicas(self.cfg.reward_app, self.cfg.reward_deployment, "load_reward", "serving_version", t)
        work = Path(tempfile.mkdtemp(prefix="t2ialign-coordinator-"))
        model = storage.resolve_folder(self.store, self.cfg.model, work)  # store:<prefix> is downloaded, verified
        clip = storage.resolve_folder(self.store, self.cfg.clip, work)
        base = storage.base_version(model)  # the gate is toy-only
        self.promoter = Promoter(self.store, generators, rewards, base_unet=(base, model / "unet"))
        self.runner = RoundRunner(self.cfg, self.store, ServiceCalls(self.cfg), self.promoter, base, (model, clip))
        self.labeling = Labeling(self.store, self.runner.rounds, self.cfg.labeling)
        self._thread = threading.Thread(target=self.runner.run, name="round-runner", daemon=True)
        self._thread.start()  # carries on with any round left unfinished by a previous replica

    def __del__(self) -> None:
        self.runner.stop.set()

    async def __call__(self, request: Any) -> JSONResponse:
        msg = "use gRPC t2ialign.v1.CoordinatorService (port 9000, metadata application=coordinator) or /v1/admin/*"
        return JSONResponse({"error": {"code": "NOT_FOUND", "message": msg}}, status_code=404)

    # In-cluster Python API (the gateway's REST routes); plain dicts --------------------------------------
    async def start_round(self, fields: dict[str, Any]) -> dict[str, Any]:
        record, _ = await asyncio.to_thread(self.runner.start, fields)
        return await asyncio.to_thread(self.runner.view, record)

    async def get_round(self, round_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(lambda: self.runner.view(self.runner.rounds.get(round_id)))

    async def submit_feedback(self, round_id: str, labels: list[dict[str, Any]]) -> dict[str, int]:
        def run() -> dict[str, int]:
            rec = self.runner.rounds.get(round_id)  # NOT_FOUND for an unknown round
            if rec["state"] in TERMINAL:
                raise FailedPrecondition(f"round {round_id} is {rec['state']}; it takes no more labels")
            out = feedback.submit(self.store, round_id, labels)
            return {**out, "num_labels": self.runner.labels.counts(round_id)[0]}

        return await asyncio.to_thread(run)

    # People labeling (coordinator/labeling.py); the gateway derives `rater` from the caller's key -------------
    async def label_next(self, round_id: str, rater: str, exclude: list[str]) -> dict[str, Any]:
        return await asyncio.to_thread(self.labeling.next_task, round_id, rater, exclude)

    async def label_image(self, key: str) -> bytes:
        return await asyncio.to_thread(self.labeling.image, key)

    async def label_export(self, round_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.labeling.export, round_id)

    async def label_stats(self, round_id: str, limit: int = 20) -> list[dict[str, Any]]:
        if round_id:
            return [await asyncio.to_thread(self.labeling.stats, round_id)]
        return await asyncio.to_thread(self.labeling.all_stats, limit)

    async def promote(self, kind: Any, version: str, skip_gate: bool = False, reason: str = "") -> dict[str, Any]:
        kind = _kind(kind)

        def run() -> dict[str, Any]:
            ready = [
                r
                for r in self.runner.rounds.rounds(frozenset({"READY"}))
                if (r["candidate_unet"] or {}).get("version") == version
            ]
            if kind == "unet" and ready:  # a round waiting for this Promote: promote its reward model too
                rec = self.runner.promote_round(ready[0], reason)
                if rec["state"] != "PROMOTED":
                    raise FailedPrecondition(rec["error"])
                return {
                    "kind": kind,
                    "serving": version,
                    "previous": ready[0]["unet_version"]["version"],
                    "replicas": rec["replicas"],
                }
            return self.promoter.promote(kind, version, reason, skip_gate)

        return await asyncio.to_thread(run)

    async def rollback(self, kind: Any, version: str = "", reason: str = "") -> dict[str, Any]:
        kind = _kind(kind)
        return await asyncio.to_thread(self.promoter.rollback, kind, version, reason)

    async def status(self, history_limit: int = 20) -> dict[str, Any]:
        check(0 <= history_limit <= 1000, f"history_limit={history_limit}; use 0..1000 (0 = 20)")
        limit = history_limit or 20

        def run() -> dict[str, Any]:
            hist = {k: pointer_history(self.store, p)[::-1][:limit] for k, p in POINTERS.items()}
            active = [self.runner.view(r) for r in self.runner.rounds.rounds(frozenset(set(STATES) - TERMINAL))]
            return {
                "serving_unet": hist["unet"][0]["version"] if hist["unet"] else self.runner.base_version,
                "serving_reward": hist["reward"][0]["version"] if hist["reward"] else "",
                "unet_history": hist["unet"],
                "reward_history": hist["reward"],
                "active_rounds": active,
            }

        return await asyncio.to_thread(run)

    # gRPC (t2ialign.v1.CoordinatorService through the Serve gRPC proxy) ------------------------------
    @grpc_method(coordinator_pb2.StartRoundResponse, scope="admin")
    async def StartRound(self, request: coordinator_pb2.StartRoundRequest, grpc_context: Any = None) -> Any:
        fields = {f.name: v for f, v in request.ListFields()}
        return coordinator_pb2.StartRoundResponse(round=round_pb(await self.start_round(fields)))

    @grpc_method(coordinator_pb2.SubmitFeedbackResponse, scope="user")
    async def SubmitFeedback(self, request: coordinator_pb2.SubmitFeedbackRequest, grpc_context: Any = None) -> Any:
        fields = ("label_id", "image_key", "rating", "rater_id", "choice")
        labels = [{f: getattr(x, f) for f in fields} for x in request.labels]
        return coordinator_pb2.SubmitFeedbackResponse(**await self.submit_feedback(request.round_id, labels))

    @grpc_method(coordinator_pb2.GetRoundResponse, scope="user")
    async def GetRound(self, request: coordinator_pb2.GetRoundRequest, grpc_context: Any = None) -> Any:
        return coordinator_pb2.GetRoundResponse(round=round_pb(await self.get_round(request.round_id)))

    @grpc_method(coordinator_pb2.PromoteResponse, scope="admin")
    async def Promote(self, request: coordinator_pb2.PromoteRequest, grpc_context: Any = None) -> Any:
        kind = _kind(request.kind)
        out = await self.promote(kind, request.version, request.skip_gate, request.reason)
        return _move_pb(coordinator_pb2.PromoteResponse, kind, out)

    @grpc_method(coordinator_pb2.RollbackResponse, scope="admin")
    async def Rollback(self, request: coordinator_pb2.RollbackRequest, grpc_context: Any = None) -> Any:
        kind = _kind(request.kind)
        out = await self.rollback(kind, request.version, request.reason)
        return _move_pb(coordinator_pb2.RollbackResponse, kind, out)

    @grpc_method(coordinator_pb2.StatusResponse, scope="user")
    async def Status(self, request: coordinator_pb2.StatusRequest, grpc_context: Any = None) -> Any:
        s = await self.status(request.history_limit)
        reward = _version_pb("reward", {"version": s["serving_reward"]}) if s["serving_reward"] else None
        return coordinator_pb2.StatusResponse(
            serving_unet=_version_pb("unet", {"version": s["serving_unet"]}),
            serving_reward=reward,
            unet_history=_entries_pb(s["unet_history"]),
            reward_history=_entries_pb(s["reward_history"]),
            active_rounds=[round_pb(r) for r in s["active_rounds"]],
        )
