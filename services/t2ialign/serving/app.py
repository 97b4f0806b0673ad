"""Typed Ray Serve application builders (Ray Serve's pattern: pydantic args in, Application out) and the
local launcher behind `t2ialign serve`.

APPLICATIONS is the one list of Serve applications: `t2ialign serve` starts it, and serving/serve_config.py
writes it out as deploy/serve_local.yaml and as the Helm chart's helm/t2ialign/files/applications.yaml.
One application per service: `reward` (gRPC RewardService), `generator` (gRPC GeneratorService),
`coordinator` (gRPC CoordinatorService: rounds, promotion, rollback), `trainer` (gRPC TrainerService: training
jobs on Ray Train) and `gateway` (HTTP ingress at /). The gRPC proxy routes by the `application` metadata key
of each call. CPUs on the local default (2 cores): reward and generator 0.5 each, the others 0 (the trainer
only launches jobs), so one training worker (1 CPU, TrainerServiceConfig.cpus_per_worker) fits beside them.
Adding an application: one AppSpec below and its field in ServeArgs, then
`python -m t2ialign.serving.serve_config --write` (tests fail until the written files match).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application
from ray.serve.config import gRPCOptions

from t2ialign.coordinator.config import CoordinatorConfig
from t2ialign.gateway.config import GatewayConfig
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.reward.config import RewardServiceConfig
from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES
from t2ialign.trainer.config import TrainerServiceConfig

GRPC_MESSAGE_ENV = "RAY_SERVE_GRPC_MAX_MESSAGE_SIZE"  # read by the Serve gRPC proxy when it starts
PROXY_READY_ENV = "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S"  # read by the Serve controller


class Autoscaling(BaseModel, extra="forbid"):
    """Ray Serve's request-based autoscaling (a subset of ray.serve.config.AutoscalingConfig)."""

    min_replicas: int = Field(1, ge=0)  # 0 lets an idle application scale to zero (the next call waits)
    max_replicas: int = Field(4, ge=1)
    target_ongoing_requests: float = Field(2, gt=0)  # per replica; above it Serve adds replicas


class Scaling(BaseModel, extra="forbid"):
    num_replicas: int = Field(1, ge=1)  # replicas of the deployment (each loads its own model copy)
    num_cpus: float = Field(0.5, ge=0)  # CPUs reserved per replica (Ray scheduling, not a thread limit); 0.5
    # leaves a 2-core machine one CPU for a training worker beside reward and generator (torch_threads is 1)
    num_gpus: float = Field(0, ge=0)  # GPUs per replica; the models move to "cuda" only if given one
    autoscaling: Autoscaling | None = None  # set: replicas follow load between its bounds; num_replicas unused


class RewardAppArgs(BaseModel, extra="forbid"):
    config: RewardServiceConfig = RewardServiceConfig()
    scaling: Scaling = Scaling()


class GeneratorAppArgs(BaseModel, extra="forbid"):
    config: GeneratorServiceConfig = GeneratorServiceConfig()
    scaling: Scaling = Scaling()


class CoordinatorAppArgs(BaseModel, extra="forbid"):
    config: CoordinatorConfig = CoordinatorConfig()
    scaling: Scaling = Scaling(num_cpus=0)  # one replica: the only writer of rounds and serving pointers


class TrainerAppArgs(BaseModel, extra="forbid"):
    config: TrainerServiceConfig = TrainerServiceConfig()
    scaling: Scaling = Scaling(num_cpus=0)  # jobs run in their own actors and Ray Train workers


class GatewayAppArgs(BaseModel, extra="forbid"):
    config: GatewayConfig = GatewayConfig()
    scaling: Scaling = Scaling(num_cpus=0)


def _options(s: Scaling) -> dict[str, Any]:
    options: dict[str, Any] = {"ray_actor_options": {"num_cpus": s.num_cpus, "num_gpus": s.num_gpus}}
    if s.autoscaling is None:
        return options | {"num_replicas": s.num_replicas}
    return options | {"num_replicas": "auto", "autoscaling_config": s.autoscaling.model_dump()}


def build_reward_app(args: RewardAppArgs) -> Application:
    from t2ialign.reward.deployment import RewardDeployment

    args = RewardAppArgs.model_validate(args)
    return RewardDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_generator_app(args: GeneratorAppArgs) -> Application:
    from t2ialign.generator.deployment import GeneratorDeployment

    args = GeneratorAppArgs.model_validate(args)
    return GeneratorDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_coordinator_app(args: CoordinatorAppArgs) -> Application:
    from t2ialign.coordinator.deployment import CoordinatorDeployment

    args = CoordinatorAppArgs.model_validate(args)
    if args.scaling.num_replicas != 1 or args.scaling.autoscaling is not None:
        raise ValueError("the coordinator runs exactly one replica (it alone moves the serving pointers)")
    return CoordinatorDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_trainer_app(args: TrainerAppArgs) -> Application:
    from t2ialign.trainer.deployment import TrainerDeployment

    args = TrainerAppArgs.model_validate(args)
    return TrainerDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


def build_gateway_app(args: GatewayAppArgs) -> Application:
    from t2ialign.gateway.deployment import GatewayDeployment

    args = GatewayAppArgs.model_validate(args)
    return GatewayDeployment.options(**_options(args.scaling)).bind(args.config.model_dump())


@dataclass(frozen=True)
class AppSpec:
    """One Serve application: its name (also ServeArgs' field and the gRPC `application` metadata value)."""

    name: str
    route_prefix: str  # HTTP route; gRPC-only applications need one too, and answer 404 over HTTP
    builder: str  # import path of the builder, module:function
    grpc_servicer: str | None  # add_*Servicer_to_server registered on the Serve gRPC proxy, if any
    summary: str  # one line for config comments and `t2ialign serve`'s output


APPLICATIONS: tuple[AppSpec, ...] = (
    AppSpec(
        "reward",
        "/reward",
        "t2ialign.serving.app:build_reward_app",
        "t2ialign.v1.reward_pb2_grpc.add_RewardServiceServicer_to_server",
        "gRPC RewardService (metadata application=reward); HTTP here answers 404",
    ),
    AppSpec(
        "generator",
        "/generator",
        "t2ialign.serving.app:build_generator_app",
        "t2ialign.v1.generator_pb2_grpc.add_GeneratorServiceServicer_to_server",
        "gRPC GeneratorService (metadata application=generator)",
    ),
    AppSpec(
        "coordinator",
        "/coordinator",
        "t2ialign.serving.app:build_coordinator_app",
        "t2ialign.v1.coordinator_pb2_grpc.add_CoordinatorServiceServicer_to_server",
        "gRPC CoordinatorService (metadata application=coordinator); exactly one replica",
    ),
    AppSpec(
        "trainer",
        "/trainer",
        "t2ialign.serving.app:build_trainer_app",
        "t2ialign.v1.trainer_pb2_grpc.add_TrainerServiceServicer_to_server",
        "gRPC TrainerService (metadata application=trainer, admin key); jobs run on Ray Train",
    ),
    AppSpec("gateway", "/", "t2ialign.serving.app:build_gateway_app", None, "REST /v1/*, /docs, /healthz"),
)
ROUTES = {a.name: a.route_prefix for a in APPLICATIONS}
GRPC_SERVICER_FUNCTIONS = [a.grpc_servicer for a in APPLICATIONS if a.grpc_servicer]


class ServeArgs(BaseModel, extra="forbid"):
    """Everything `t2ialign serve` starts: one field per application in APPLICATIONS, plus the proxies."""

    reward: RewardAppArgs = RewardAppArgs()
    generator: GeneratorAppArgs = GeneratorAppArgs()
    coordinator: CoordinatorAppArgs = CoordinatorAppArgs()
    trainer: TrainerAppArgs = TrainerAppArgs()
    gateway: GatewayAppArgs = GatewayAppArgs()
    http_host: str = "127.0.0.1"  # 0.0.0.0 to listen on every interface
    http_port: int = 8000
    grpc_port: int = 9000
    proxy_location: Literal["HeadOnly", "EveryNode"] = "HeadOnly"  # EveryNode: a proxy on each node (cluster)


def set_grpc_message_limit() -> None:
    """Must run before Ray starts (the proxy actor inherits the environment). Also gives a new proxy 30 s,
    not Serve's 5 s, to answer its readiness check: on a busy 2-core machine its worker takes longer to start,
    and three missed checks make Serve kill it and fail `serve.start`."""
    os.environ.setdefault(GRPC_MESSAGE_ENV, str(GRPC_MAX_MESSAGE_BYTES))
    os.environ.setdefault(PROXY_READY_ENV, "30")


def _builder(spec: AppSpec):
    import importlib

    module, _, function = spec.builder.partition(":")
    return getattr(importlib.import_module(module), function)


def init_local_ray(num_cpus: int = 2, attempts: int = 3) -> None:
    """A local Ray for tests and benchmarks; retried, since the raylet waits ~15 s for its agents and a loaded
    machine can miss that."""
    import ray

    for attempt in range(attempts):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts - 1:
                raise


def start_all(args: ServeArgs) -> dict[str, str]:
    """Start Serve (HTTP + gRPC proxies) and deploy every application; returns the endpoints. Ray must be up."""
    serve.start(
        proxy_location=args.proxy_location,
        http_options={"host": args.http_host, "port": args.http_port},
        grpc_options=gRPCOptions(port=args.grpc_port, grpc_servicer_functions=GRPC_SERVICER_FUNCTIONS),
    )
    targets = [
        serve.RunTarget(_builder(a)(_app_args(args, a.name)), name=a.name, route_prefix=a.route_prefix)
        for a in APPLICATIONS
    ]
    serve.run_many(targets)
    return endpoints(args)


def _app_args(args: ServeArgs, name: str) -> BaseModel:
    """An application's args; the coordinator's gRPC targets default to this Serve's own proxy port."""
    app = getattr(args, name)
    if name != "coordinator":
        return app
    local = f"127.0.0.1:{args.grpc_port}"
    unset = {f: local for f in ("generator_target", "trainer_target") if f not in app.config.model_fields_set}
    return app.model_copy(update={"config": app.config.model_copy(update=unset)})


def endpoints(args: ServeArgs) -> dict[str, str]:
    http = f"http://{args.http_host}:{args.http_port}"
    grpc = f"{args.http_host}:{args.grpc_port}"
    return {
        "REST gateway": f"{http}/v1/score, /v1/rank, /v1/generate, /v1/models, /v1/admin/load_unet, /v1/admin/jobs",
        "OpenAPI docs": f"{http}/docs",
        "health": f"{http}/healthz (gateway), {http}/-/healthz (Serve proxy)",
        "gRPC RewardService": f"{grpc} with metadata application=reward (Score, Rank)",
        "gRPC GeneratorService": f"{grpc} with metadata application=generator (Generate, ModelInfo, LoadUnet)",
        "gRPC CoordinatorService": f"{grpc} with metadata application=coordinator (StartRound, SubmitFeedback, "
        "GetRound, Promote, Rollback, Status)",
        "REST rounds": f"{http}/v1/feedback, /v1/admin/rounds, /v1/admin/promote, /v1/admin/rollback, /v1/admin/status",
        "gRPC TrainerService": f"{grpc} with metadata application=trainer (StartRewardTraining, StartFinetune, "
        "GetJob, ListJobs, CancelJob; admin key)",
    }
