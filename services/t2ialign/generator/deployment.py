"""Generator service as a Ray Serve deployment: gRPC Generate/ModelInfo/LoadUnet (via the Serve gRPC proxy)
and Python methods for the gateway. Images are scored by the reward service through a DeploymentHandle.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from ray import serve
from starlette.responses import JSONResponse

from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.generator.logic import Generator
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.grpc_errors import grpc_method
from t2ialign.v1 import common_pb2, generator_pb2

log = logging.getLogger("t2ialign.generator")


def _version_pb(v: dict[str, str]) -> common_pb2.ModelVersion:
    return common_pb2.ModelVersion(
        kind=common_pb2.MODEL_KIND_UNET, version=v["version"], prefix=v["prefix"], parent_version=v["parent_version"]
    )


@serve.deployment(max_ongoing_requests=8, ray_actor_options={"num_cpus": 1})
class GeneratorDeployment:
    def __init__(self, config: dict[str, Any] | None = None):
        self.cfg = GeneratorServiceConfig(**(config or {}))
        self.gen = Generator.from_config(self.cfg)
        self.api_keys = ApiKeys.from_env()
        self.replica_id = str(serve.get_replica_context().replica_id)
        self._reward: Any = None
        if self.cfg.watch_pointer_s:  # a daemon thread: the swap itself is thread-safe (lock + one reference)
            threading.Thread(target=self._watch_pointer, name="unet-pointer-watch", daemon=True).start()

    def _reward_handle(self) -> Any:
        if self._reward is None:  # looked up lazily: the reward app may deploy after this one
            self._reward = serve.get_deployment_handle(self.cfg.reward_deployment, app_name=self.cfg.reward_app)
        return self._reward

    def _score(self, images: Any, prompts: list[str]) -> Any:
        """Score with the reward service (awaitable); the handle is looked up inside the call, so a failure there
        is a scoring failure (UNAVAILABLE)."""
        return self._reward_handle().score_arrays.remote(images, prompts)

    def _watch_pointer(self) -> None:
        """Optional: follow pointers/unet-serving, so every replica converges after a promotion."""
        while True:
            time.sleep(self.cfg.watch_pointer_s)
            try:
                self.gen.sync_to_pointer()
            except Exception:
                log.exception("pointer watch failed; will retry")

    async def __call__(self, request: Any) -> JSONResponse:
        """HTTP under this app's route is not an API; point callers to gRPC or the gateway."""
        msg = "use gRPC t2ialign.v1.GeneratorService (port 9000, metadata application=generator) or POST /v1/generate"
        return JSONResponse({"error": {"code": "NOT_FOUND", "message": msg}}, status_code=404)

    # In-cluster Python API (the gateway) --------------------------------------------------------------
    async def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        """A whole Generate call (Generator.generate); images are scored by the reward service."""
        return await self.gen.generate(request, self._score)

    async def model_info(self) -> dict[str, Any]:
        return {**self.gen.model_info(), "replica_id": self.replica_id}

    async def load_unet(self, version: str, prefix: str = "") -> dict[str, Any]:
        result = await asyncio.to_thread(self.gen.load_unet, version, prefix)  # off the event loop
        return {**result, "replica_id": self.replica_id}

    async def serving_version(self) -> dict[str, str]:
        """What this replica serves (the coordinator broadcasts this to confirm a promotion)."""
        return {"replica_id": self.replica_id, "version": self.gen.served.version}

    # gRPC (t2ialign.v1.GeneratorService through the Serve gRPC proxy) --------------------------------
    @grpc_method(generator_pb2.GenerateResponse)
    async def Generate(self, request: generator_pb2.GenerateRequest, grpc_context: Any = None) -> Any:
        fields = {f.name: v for f, v in request.ListFields()}  # unset optional fields stay unset
        fields["num_images"] = request.num_images
        r = await self.generate(fields)
        images = [
            generator_pb2.GeneratedImage(
                image=common_pb2.ImageRef(key=x["key"], data=x["png"]),
                reward=x["reward"],
                normalized_reward=x["normalized_reward"],
                unet_version=x["unet_version"],
                index=x["index"],
            )
            for x in r["images"]
        ]
        return generator_pb2.GenerateResponse(
            images=images,
            unet_version=r["unet_version"],
            reward_version=r["reward_version"],
            num_generated=r["num_generated"],
            seed=r["seed"],
        )

    @grpc_method(generator_pb2.ModelInfoResponse)
    async def ModelInfo(self, request: generator_pb2.ModelInfoRequest, grpc_context: Any = None) -> Any:
        info = await self.model_info()
        return generator_pb2.ModelInfoResponse(
            backend=info["backend"],
            unet=_version_pb(info["unet"]),
            resolution=info["resolution"],
            last_load_error=info["last_load_error"],
            replica_id=info["replica_id"],
        )

    @grpc_method(generator_pb2.LoadUnetResponse, scope="admin")
    async def LoadUnet(self, request: generator_pb2.LoadUnetRequest, grpc_context: Any = None) -> Any:
        r = await self.load_unet(request.version, request.prefix)
        return generator_pb2.LoadUnetResponse(
            swapped=r["swapped"],
            serving=_version_pb(r["serving"]),
            previous=_version_pb(r["previous"]),
            error=r["error"],
            load_seconds=r["load_seconds"],
            replica_id=r["replica_id"],
        )
