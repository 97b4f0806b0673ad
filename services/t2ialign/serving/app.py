"""Typed Ray Serve application builders (Ray Serve's pattern: pydantic args in, Application out) and the
local launcher behind `t2ialign serve`. deploy/serve_local.yaml names the same builders with the same args.

Three applications, one per service: `reward` (gRPC RewardService), `generator` (gRPC GeneratorService) and
`gateway` (HTTP ingress at /). The gRPC proxy routes by the `application` metadata key of each call.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application
from ray.serve.config import gRPCOptions

from t2ialign.gateway.config import GatewayConfig
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.reward.config import RewardServiceConfig
from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES

GRPC_SERVICER_FUNCTIONS = [
    "t2ialign.v1.reward_pb2_grpc.add_RewardServiceServicer_to_server",
    "t2ialign.v1.generator_pb2_grpc.add_GeneratorServiceServicer_to_server",
]
GRPC_MESSAGE_ENV = "RAY_SERVE_GRPC_MAX_MESSAGE_SIZE"  # read by the Serve gRPC proxy when it starts
ROUTES = {"reward": "/reward", "generator": "/generator", "gateway": "/"}  # gRPC routing needs a route too


class Scaling(BaseModel, extra="forbid"):
    num_replicas: int = Field(1, ge=1)  # replicas of the deployment (each loads its own model copy)
    num_cpus: float = Field(1, ge=0)  # CPUs reserved per replica (Ray scheduling, not a thread limit)
    num_gpus: float = Field(0, ge=0)  # GPUs per replica; the models move to "cuda" only if given one


class RewardAppArgs(BaseModel, extra="forbid"):
    config: RewardServiceConfig = RewardServiceConfig()
    scaling: Scaling = Scaling()


class GeneratorAppArgs(BaseModel, extra="forbid"):
    config: GeneratorServiceConfig = GeneratorServiceConfig()
    scaling: Scaling = Scaling()


class GatewayAppArgs(BaseModel, extra="forbid"):
    config: GatewayConfig = GatewayConfig()
    scaling: Scaling = Scaling(num_cpus=0)


def _options(s: Scaling) -> dict[str, Any]:
    return {"num_replicas": s.num_replicas, "ray_actor_options": {"num_cpus": s.num_cpus, "num_gpus": s.num_gpus}}


def build_reward_app(args: RewardAppArgs) -> Application:
    from t2ialign.reward.deployment import RewardDeployment

    args = RewardAppArgs.model_validate(args)
    return RewardDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_generator_app(args: GeneratorAppArgs) -> Application:
    from t2ialign.generator.deployment import GeneratorDeployment

    args = GeneratorAppArgs.model_validate(args)
    return GeneratorDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_gateway_app(args: GatewayAppArgs) -> Application:
    from t2ialign.gateway.deployment import GatewayDeployment

    args = GatewayAppArgs.model_validate(args)
    return GatewayDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


class ServeArgs(BaseModel, extra="forbid"):
    """Everything `t2ialign serve` starts: three apps plus the proxies."""

    reward: RewardAppArgs = RewardAppArgs()
    generator: GeneratorAppArgs = GeneratorAppArgs()
    gateway: GatewayAppArgs = GatewayAppArgs()
    http_host: str = "127.0.0.1"  # 0.0.0.0 to listen on every interface
    http_port: int = 8000
    grpc_port: int = 9000


def set_grpc_message_limit() -> None:
    """Must run before Ray starts (the proxy actor inherits the environment)."""
    os.environ.setdefault(GRPC_MESSAGE_ENV, str(GRPC_MAX_MESSAGE_BYTES))


def start_all(args: ServeArgs) -> dict[str, str]:
    """Start Serve (HTTP + gRPC proxies) and deploy the three apps; returns the endpoints. Ray must be up."""
    serve.start(
        http_options={"host": args.http_host, "port": args.http_port},
        grpc_options=gRPCOptions(port=args.grpc_port, grpc_servicer_functions=GRPC_SERVICER_FUNCTIONS),
    )
    apps = {
        "reward": build_reward_app(args.reward),
        "generator": build_generator_app(args.generator),
        "gateway": build_gateway_app(args.gateway),
    }
    serve.run_many([serve.RunTarget(app, name=name, route_prefix=ROUTES[name]) for name, app in apps.items()])
    return endpoints(args)


def endpoints(args: ServeArgs) -> dict[str, str]:
    http = f"http://{args.http_host}:{args.http_port}"
    grpc = f"{args.http_host}:{args.grpc_port}"
    return {
        "REST gateway": f"{http}/v1/score, /v1/rank, /v1/generate, /v1/models, /v1/admin/load_unet",
        "OpenAPI docs": f"{http}/docs",
        "health": f"{http}/healthz (gateway), {http}/-/healthz (Serve proxy)",
        "gRPC RewardService": f"{grpc} with metadata application=reward (Score, Rank)",
        "gRPC GeneratorService": f"{grpc} with metadata application=generator (Generate, ModelInfo, LoadUnet)",
    }
