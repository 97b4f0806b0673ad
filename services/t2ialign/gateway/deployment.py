"""Gateway as the Serve HTTP ingress; its backends are DeploymentHandles to the reward, generator and trainer
apps."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.exceptions import RayTaskError

from t2ialign.gateway.api import create_app
from t2ialign.gateway.config import GatewayConfig
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import ServiceError, Unavailable
from t2ialign.serving.requests import ImageInput


async def _call(handle: Any, method: str, *args: Any) -> Any:
    """Call a deployment method; a ServiceError raised in the replica comes back as itself (4xx stays 4xx)."""
    try:
        return await getattr(handle, method).remote(*args)
    except Exception as e:
        cause = e.cause if isinstance(e, RayTaskError) else e
        if isinstance(cause, ServiceError):
            raise type(cause)(cause.message) from None
        raise Unavailable(f"{method} failed in the backing service ({type(cause).__name__}: {cause})") from e


class HandleBackends:
    """`Backends` over DeploymentHandles, looked up lazily (the other apps may deploy after the gateway)."""

    def __init__(self, cfg: GatewayConfig):
        self.cfg = cfg
        self._handles: dict[str, Any] = {}

    def _handle(self, deployment: str, app: str) -> Any:
        if deployment not in self._handles:
            self._handles[deployment] = serve.get_deployment_handle(deployment, app_name=app)
        return self._handles[deployment]

    @property
    def reward(self) -> Any:
        return self._handle(self.cfg.reward_deployment, self.cfg.reward_app)

    @property
    def generator(self) -> Any:
        return self._handle(self.cfg.generator_deployment, self.cfg.generator_app)

    async def score(self, prompts: list[str], images: list[ImageInput]) -> dict[str, Any]:
        return await _call(self.reward, "score_inputs", prompts, images)

    async def rank(self, prompt: str, images: list[ImageInput], k: int) -> dict[str, Any]:
        return await _call(self.reward, "rank_inputs", prompt, images, k)

    async def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        return await _call(self.generator, "generate", request)

    async def models(self) -> dict[str, Any]:
        return {
            "generator": await _call(self.generator, "model_info"),
            "reward": await _call(self.reward, "model_info"),
        }

    async def load_unet(self, version: str, prefix: str) -> dict[str, Any]:
        return await _call(self.generator, "load_unet", version, prefix)

    @property
    def trainer(self) -> Any:
        return self._handle(self.cfg.trainer_deployment, self.cfg.trainer_app)

    async def start_job(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        return await _call(self.trainer, "start_job", kind, request)

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return await _call(self.trainer, "get_job", job_id)

    async def list_jobs(self, kind: str, state: str, page_size: int, page_token: str) -> dict[str, Any]:
        return await _call(self.trainer, "list_jobs", kind, state, page_size, page_token)

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return await _call(self.trainer, "cancel_job", job_id)


class CoordinatorBackend:
    """`RoundBackend` over the coordinator's DeploymentHandle (looked up lazily)."""

    def __init__(self, cfg: GatewayConfig):
        self.cfg = cfg
        self._h: Any = None

    async def _call(self, method: str, *args: Any) -> Any:
        if self._h is None:
            self._h = serve.get_deployment_handle(self.cfg.coordinator_deployment, app_name=self.cfg.coordinator_app)
        return await _call(self._h, method, *args)

    async def start_round(self, fields: dict[str, Any]) -> dict[str, Any]:
        return await self._call("start_round", fields)

    async def get_round(self, round_id: str) -> dict[str, Any]:
        return await self._call("get_round", round_id)

    async def submit_feedback(self, round_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("submit_feedback", round_id, labels)

    async def label_next(self, round_id: str, rater: str, exclude: list[str]) -> dict[str, Any]:
        return await self._call("label_next", round_id, rater, exclude)

    async def label_image(self, key: str) -> bytes:
        return await self._call("label_image", key)

    async def label_export(self, round_id: str) -> list[dict[str, Any]]:
        return await self._call("label_export", round_id)

    async def label_stats(self, round_id: str, limit: int) -> list[dict[str, Any]]:
        return await self._call("label_stats", round_id, limit)

    async def promote(self, kind: str, version: str, skip_gate: bool, reason: str) -> dict[str, Any]:
        return await self._call("promote", kind, version, skip_gate, reason)

    async def rollback(self, kind: str, version: str, reason: str) -> dict[str, Any]:
        return await self._call("rollback", kind, version, reason)

    async def status(self, history_limit: int) -> dict[str, Any]:
        return await self._call("status", history_limit)


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0})
@serve.ingress()
class GatewayDeployment:
    def __init__(self, config: dict[str, Any] | None = None):
        self.cfg = GatewayConfig(**(config or {}))
        self.api_keys = ApiKeys.from_env()

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(HandleBackends(self.cfg), self.api_keys, self.cfg, CoordinatorBackend(self.cfg))
