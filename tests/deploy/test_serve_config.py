"""The one Serve config: APPLICATIONS and ServeArgs in serving/app.py, written out by serving/serve_config.py
as deploy/serve_local.yaml (`serve run`) and helm/t2ialign/files/applications.yaml (the chart)."""

from __future__ import annotations

import yaml
from ray.serve.schema import ServeDeploySchema

from t2ialign.serving.app import APPLICATIONS, ROUTES, AppSpec, Scaling, ServeArgs, _options
from t2ialign.serving.serve_config import CHART_FILE, LOCAL_FILE, main, serve_config, written_files


def test_written_files_are_current() -> None:
    """Fails after an application changes until `python -m t2ialign.serving.serve_config --write` runs."""
    for path, text in written_files().items():
        assert path.read_text() == text, f"{path} is stale; run python -m t2ialign.serving.serve_config --write"
    assert main(["--check"]) == 0


def test_every_application_has_serve_args_and_nothing_else_does() -> None:
    proxy_fields = {"http_host", "http_port", "grpc_port", "proxy_location"}
    assert set(ServeArgs.model_fields) - proxy_fields == {a.name for a in APPLICATIONS}
    assert all(isinstance(a, AppSpec) and a.route_prefix.startswith("/") for a in APPLICATIONS)
    assert len(set(ROUTES.values())) == len(ROUTES)


def test_local_file_is_t2ialign_serve_defaults() -> None:
    raw = yaml.safe_load(LOCAL_FILE.read_text())
    ServeDeploySchema.model_validate(raw)
    args = {a["name"]: a["args"] for a in raw["applications"]}
    assert ServeArgs.model_validate(args) == ServeArgs()
    assert raw == serve_config(ServeArgs())


def test_chart_file_is_the_cluster_variant_of_the_same_config() -> None:
    chart = yaml.safe_load(CHART_FILE.read_text())
    local = yaml.safe_load(LOCAL_FILE.read_text())
    ServeDeploySchema.model_validate(chart["serve"])
    assert chart["serve"]["applications"] == local["applications"]
    assert chart["serve"]["proxy_location"] == "EveryNode" and chart["serve"]["http_options"]["host"] == "0.0.0.0"
    assert chart["store_url_apps"] == ["reward", "generator", "coordinator", "trainer"]


def test_autoscaling_replaces_a_fixed_replica_count() -> None:
    fixed = _options(Scaling(num_replicas=3, num_gpus=1))
    assert fixed == {"num_replicas": 3, "ray_actor_options": {"num_cpus": 0.5, "num_gpus": 1}}
    auto = _options(Scaling.model_validate({"autoscaling": {"min_replicas": 0, "max_replicas": 5}}))
    assert auto["num_replicas"] == "auto" and auto["autoscaling_config"]["max_replicas"] == 5
