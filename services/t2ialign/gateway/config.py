"""Gateway settings (the args of `build_gateway_app`, one block of deploy/serve_local.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GatewayConfig(BaseModel, extra="forbid"):
    reward_app: str = "reward"  # Serve application + deployment behind /v1/score and /v1/rank
    reward_deployment: str = "RewardDeployment"
    generator_app: str = "generator"  # Serve application + deployment behind /v1/generate
    generator_deployment: str = "GeneratorDeployment"
    coordinator_app: str = "coordinator"  # Serve application + deployment behind /v1/feedback and /v1/admin/*
    coordinator_deployment: str = "CoordinatorDeployment"
    trainer_app: str = "trainer"  # Serve application + deployment behind /v1/admin/jobs
    trainer_deployment: str = "TrainerDeployment"
    max_body_mb: float = Field(80, gt=0)  # larger bodies get 413 before parsing (a 20 MiB image is 27 MiB base64)
