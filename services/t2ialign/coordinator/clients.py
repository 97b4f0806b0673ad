"""The coordinator's outgoing gRPC calls: GeneratorService.Generate and the TrainerService, at the targets of
its config (the Serve gRPC proxy by default, routed by the `application` metadata key)."""

from __future__ import annotations

import os
from typing import Any

import grpc

from t2ialign.coordinator.config import CoordinatorConfig
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError, Unavailable
from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES
from t2ialign.v1 import generator_pb2, generator_pb2_grpc, trainer_pb2, trainer_pb2_grpc

TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
_ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
}


class Transient(Unavailable):
    """The called service is down or busy: the round runner retries on its next pass."""


def service_key(cfg: CoordinatorConfig) -> str:
    """The admin key for calls to other services: $service_key_env, else an admin key of T2IALIGN_API_KEYS."""
    key = os.environ.get(cfg.service_key_env, "")
    if key:
        return key
    admin = [k for k, scope in ApiKeys.from_env().keys.items() if scope == "admin"]
    if not admin:
        raise RuntimeError(f"no key for calls to other services: set {cfg.service_key_env} or an admin key")
    return admin[0]


def _rpc(method: Any, request: Any, metadata: list[tuple[str, str]], timeout: float, what: str) -> Any:
    try:
        return method(request, metadata=metadata, timeout=timeout)
    except grpc.RpcError as e:
        code, details = e.code(), e.details()
        if code in TRANSIENT:
            raise Transient(f"{what}: {code.name} {details}") from e
        raise _ERRORS.get(code, ServiceError)(f"{what}: {code.name} {details}") from e


class ServiceCalls:
    """Generator and trainer stubs with auth metadata; channels open lazily (the services may start later)."""

    def __init__(self, cfg: CoordinatorConfig):
        self.cfg = cfg
        self._key: str | None = None
        self._stubs: dict[str, Any] = {}

    def _metadata(self, application: str) -> list[tuple[str, str]]:
        if self._key is None:
            self._key = service_key(self.cfg)
        md = [("authorization", f"Bearer {self._key}")]
        return md + [("application", application)] if application else md

    def _stub(self, name: str) -> Any:
        if name not in self._stubs:
            target = self.cfg.generator_target if name == "generator" else self.cfg.trainer_target
            opts = [
                ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
            ]
            channel = grpc.insecure_channel(target, options=opts)
            cls = (
                generator_pb2_grpc.GeneratorServiceStub if name == "generator" else trainer_pb2_grpc.TrainerServiceStub
            )
            self._stubs[name] = cls(channel)
        return self._stubs[name]

    def generate(self, **fields: Any) -> generator_pb2.GenerateResponse:
        md = self._metadata(self.cfg.generator_application)
        request = generator_pb2.GenerateRequest(**fields)
        return _rpc(self._stub("generator").Generate, request, md, self.cfg.call_timeout_s, "Generate")

    def start_reward_training(self, **fields: Any) -> trainer_pb2.Job:
        md = self._metadata(self.cfg.trainer_application)
        request = trainer_pb2.StartRewardTrainingRequest(**fields)
        return _rpc(self._stub("trainer").StartRewardTraining, request, md, 60, "StartRewardTraining").job

    def start_finetune(self, **fields: Any) -> trainer_pb2.Job:
        md = self._metadata(self.cfg.trainer_application)
        request = trainer_pb2.StartFinetuneRequest(**fields)
        return _rpc(self._stub("trainer").StartFinetune, request, md, 60, "StartFinetune").job

    def get_job(self, job_id: str) -> trainer_pb2.Job:
        md = self._metadata(self.cfg.trainer_application)
        request = trainer_pb2.GetJobRequest(job_id=job_id)
        return _rpc(self._stub("trainer").GetJob, request, md, 60, "GetJob").job
