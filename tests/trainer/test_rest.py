"""The gateway's admin job routes over a fake trainer backend (no Ray): scope, bodies, and error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from t2ialign.gateway.api import create_app
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import NotFound
from t2ialign.trainer import specs

ADMIN, USER = {"Authorization": "Bearer admin-key-0123"}, {"Authorization": "Bearer user-key-0123"}


class FakeTrainer:
    """Validates with the trainer's own specs.py, as the deployment does, and records what reached it."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def start_job(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        spec = (specs.reward_spec if kind == "reward" else specs.finetune_spec)(request, 1)
        self.started.append(spec)
        return {"job_id": f"{kind}-1", "state": "queued", "spec": spec}

    async def get_job(self, job_id: str) -> dict[str, Any]:
        if job_id != "finetune-1":
            raise NotFound(f"job {job_id!r} does not exist")
        return {"job_id": job_id, "state": "running"}

    async def list_jobs(self, kind: str, state: str, page_size: int, page_token: str) -> dict[str, Any]:
        return {"jobs": [], "query": [kind, state, page_size, page_token]}

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return {"job_id": job_id, "state": "cancelled"}


@pytest.fixture()
def client() -> tuple[TestClient, FakeTrainer]:
    fake = FakeTrainer()
    return TestClient(create_app(fake, ApiKeys.parse("user-key-0123:user,admin-key-0123:admin"))), fake


def test_admin_routes_reach_the_trainer(client) -> None:
    http, fake = client
    r = http.post("/v1/admin/jobs/finetune", json={"round_ids": ["r1"], "num_train_steps": 5}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["spec"]["config"]["steps"] == 5
    r = http.post("/v1/admin/jobs/reward", json={"round_ids": ["r1"], "val_fraction": 0.2}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["spec"]["val_fraction"] == 0.2
    assert http.get("/v1/admin/jobs/finetune-1", headers=ADMIN).json()["state"] == "running"
    assert http.post("/v1/admin/jobs/finetune-1/cancel", headers=ADMIN).json()["state"] == "cancelled"
    listed = http.get("/v1/admin/jobs?kind=reward&state=running&page_size=5", headers=ADMIN).json()
    assert listed["query"] == ["reward", "running", 5, ""]


def test_a_recipe_sets_the_config_and_the_knobs_override_it(client) -> None:
    from t2ialign.training.recipes import round_finetune

    http, _ = client
    body = {"round_ids": ["r1"], "recipe": "round", "learning_rate": 1e-4}
    config = http.post("/v1/admin/jobs/finetune", json=body, headers=ADMIN).json()["spec"]["config"]
    recipe = round_finetune()
    assert config["weight_normalization"] == recipe.weight_normalization == "prompt_top"
    assert config["steps"] == recipe.steps and config["lr"] == 1e-4 != recipe.lr
    default = http.post("/v1/admin/jobs/finetune", json={"round_ids": ["r1"]}, headers=ADMIN).json()["spec"]
    assert default["recipe"] == "default" and default["config"]["weight_normalization"] != "prompt_top"


def test_admin_routes_refuse_bad_input_and_user_keys(client) -> None:
    http, fake = client
    assert http.get("/v1/admin/jobs", headers=USER).status_code == 403
    assert http.get("/v1/admin/jobs").status_code == 401
    assert http.get("/v1/admin/jobs/nope", headers=ADMIN).status_code == 404
    assert http.get("/v1/admin/jobs?state=done", headers=ADMIN).status_code == 422
    bad = [
        {"round_ids": ["r1"], "num_train_steps": -1},  # out of range: the trainer's check
        {"round_ids": ["r1"], "learning_rate": 5.0},
        {"round_ids": ["r1"], "typo": 1},  # unknown field: the body model
        {"round_ids": []},
        {"round_ids": ["r1"], "recipe": "fastest"},
    ]
    for body in bad:
        r = http.post("/v1/admin/jobs/finetune", json=body, headers=ADMIN)
        assert r.status_code in (400, 422) and r.json()["error"]["code"] == "INVALID_ARGUMENT", (body, r.text)
    r = http.post("/v1/admin/jobs/reward", content=b'{"round_ids": ["r1"], "learning_rate": NaN}', headers=ADMIN)
    assert r.status_code == 422
    assert fake.started == []
