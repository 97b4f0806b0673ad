"""helm/t2ialign without a cluster or a helm binary: lint, render the issue's four cases, validate every
object (built-in kinds with kubernetes-validate, the RayService against KubeRay 1.7's CRD schema), and check
that serveConfigV2 is the package's one Serve config, that secrets stay in Secrets, and that every
container has requests and every workload probes."""

from __future__ import annotations

import base64
import importlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

from t2ialign.serving.serve_config import cluster_args, serve_config

from .chart import (
    API_KEYS,
    CHART,
    FULLNAME,
    S3_ACCESS,
    S3_SECRET,
    SCENARIOS,
    WITH_SECRETS,
    deep_merge,
    notes,
    one,
    pod_specs,
    ray_pod_templates,
    render,
)

K8S_VERSION = "1.33.0"  # a current Kubernetes; kubernetes-validate ships its schemas
IN_CHART_STORE = f"s3://t2ialign?endpoint={FULLNAME}-objectstore:9000&secure=false"
CLUSTER_WEIGHTS = {  # values.yaml's defaults: the base models as prefixes in the object store
    "reward": {"config": {"clip": "store:models/toy/clip", "model": "store:models/toy/reward"}},
    "generator": {"config": {"model": "store:models/toy/generator", "clip": "store:models/toy/clip"}},
    "coordinator": {"config": {"model": "store:models/toy/generator", "clip": "store:models/toy/clip"}},
    "trainer": {
        "config": {
            "model": "store:models/toy/generator",
            "clip": "store:models/toy/clip",
            "runs_path": "/tmp/t2ialign-train-runs",
            "check_cluster_capacity": False,
        }
    },
}
CHART_DEFAULTS = deep_merge(CLUSTER_WEIGHTS, {n: {"config": {"store_url": IN_CHART_STORE}} for n in CLUSTER_WEIGHTS})
RAYSERVICE_SCHEMA = json.loads((Path(__file__).parent / "rayservice_v1_schema.json").read_text())


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def rendering(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(SCENARIOS[request.param])


def serve_config_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(one(objects, "RayService")["spec"]["serveConfigV2"])


def policy(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    name = f"{FULLNAME}-{component}"
    return next(o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name)


def closed(schema: Any) -> Any:
    """The CRD schema with additionalProperties: false wherever it lists properties, so a misspelt field fails
    here instead of being pruned silently by the API server."""
    if isinstance(schema, dict):
        schema = {k: closed(v) for k, v in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [closed(v) for v in schema]
    return schema


# Lint -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_strict_passes(scenario: str) -> None:
    import helm_python as helm

    report = helm.lint(str(CHART), SCENARIOS[scenario], strict=True, namespace="t2i")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert not report["errors"] and not problems, report


# Every object is valid -----------------------------------------------------------------------------
def test_builtin_kinds_pass_kubernetes_validate(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendering
    builtin = [o for o in objects if not o["apiVersion"].startswith("ray.io/")]
    assert "NetworkPolicy" in {o["kind"] for o in builtin}
    for obj in builtin:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_rayservice_matches_the_crd_and_its_pods_and_service_validate(
    rendering: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = rendering
    rs = one(objects, "RayService")
    assert rs["apiVersion"] == "ray.io/v1"
    jsonschema.validate({k: v for k, v in rs.items() if k != "metadata"}, closed(RAYSERVICE_SCHEMA))
    for group, template in ray_pod_templates(rs).items():
        pod_template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": group}, "template": template}
        kubernetes_validate.validate(pod_template, K8S_VERSION, strict=True)
    service = {"apiVersion": "v1", "kind": "Service", **rs["spec"]["serveService"]}
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)


def test_no_deprecated_rayservice_fields(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    spec = one(rendering[1], "RayService")["spec"]
    assert not {"serviceUnhealthySecondThreshold", "deploymentUnhealthySecondThreshold", "serveConfig"} & set(spec)


# serveConfigV2 is the package's Serve config -------------------------------------------------------
def test_serve_config_validates_and_every_import_path_is_a_builder(
    rendering: tuple[str, list[dict[str, Any]]],
) -> None:
    config = serve_config_of(rendering[1])
    schema = ServeDeploySchema.model_validate(config)
    assert schema.http_options.port == 8000 and schema.grpc_options.port == 9000
    for app in schema.applications:
        module, _, name = app.import_path.partition(":")
        assert module.startswith("t2ialign."), app.import_path
        builder = getattr(importlib.import_module(module), name)
        assert isinstance(builder(app.args), Application), app.import_path  # builds the graph, starts nothing


def test_default_rendering_is_serve_config_of_cluster_args() -> None:
    """The chart adds only the store URL and values.yaml's weight locations to the package's config."""
    assert serve_config_of(render()) == serve_config(cluster_args(**CHART_DEFAULTS))


def test_values_override_scaling_and_config_like_serve_args() -> None:
    autoscaling = {"min_replicas": 1, "max_replicas": 8, "target_ongoing_requests": 3}
    overrides = {
        "generator": {
            "config": {"default_num_inference_steps": 12},
            "scaling": {"num_gpus": 1, "autoscaling": autoscaling},
        },
        "reward": {"scaling": {"num_replicas": 3, "num_cpus": 2}},
    }
    rendered = serve_config_of(render({"applications": overrides}))
    assert rendered == serve_config(cluster_args(**deep_merge(CHART_DEFAULTS, overrides)))


def test_a_disabled_application_is_left_out() -> None:
    config = serve_config_of(render({"applications": {"gateway": {"enabled": False}}}))
    names = [a["name"] for a in config["applications"]]
    assert names == ["reward", "generator", "coordinator", "trainer"]


def test_external_store_url_reaches_every_store_app() -> None:
    config = serve_config_of(render(SCENARIOS["external_store"]))
    url = "s3://team-t2i?endpoint=s3.eu-west-1.amazonaws.com&secure=true&region=eu-west-1"
    urls = {a["name"]: a["args"]["config"].get("store_url") for a in config["applications"]}
    assert urls == {"reward": url, "generator": url, "coordinator": url, "trainer": url, "gateway": None}


# Secrets stay in Secrets ---------------------------------------------------------------------------
def test_no_secret_value_outside_a_secret() -> None:
    objects = render(WITH_SECRETS)
    secrets = [o for o in objects if o["kind"] == "Secret"]
    stored = {base64.b64decode(v).decode() for s in secrets for v in s["data"].values()}
    assert {API_KEYS, S3_ACCESS, S3_SECRET} <= stored  # the chart made its Secrets from them
    others = yaml.safe_dump_all([o for o in objects if o["kind"] != "Secret"])
    for value in (API_KEYS, S3_ACCESS, S3_SECRET, *API_KEYS.replace(":", ",").split(",")):
        assert value not in others


def test_generated_secrets_stay_in_secrets(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendering
    stored = {base64.b64decode(v).decode() for o in objects if o["kind"] == "Secret" for v in o["data"].values()}
    others = yaml.safe_dump_all([o for o in objects if o["kind"] != "Secret"])
    assert not [v for v in stored if v in others]


def test_every_ray_container_reads_keys_and_credentials_from_secrets(
    rendering: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = rendering
    api_secret = "team-api-keys" if name == "external_store" else f"{FULLNAME}-api-keys"
    for group, template in ray_pod_templates(one(objects, "RayService")).items():
        env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
        assert env["T2IALIGN_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == api_secret, group
        for var in ("T2IALIGN_S3_ACCESS_KEY", "T2IALIGN_S3_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert "value" not in env[var] and env[var]["valueFrom"]["secretKeyRef"]["name"], group
        assert env["RAY_SERVE_GRPC_MAX_MESSAGE_SIZE"]["value"] == "67108864"


# Resources and probes ------------------------------------------------------------------------------
def test_every_container_has_requests_and_limits(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    for where, spec in pod_specs(rendering[1]).items():
        for c in spec.get("initContainers", []) + spec["containers"]:
            resources = c.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), f"{where}/{c['name']} has no requests"
            assert {"cpu", "memory"} <= set(resources.get("limits", {})), f"{where}/{c['name']} has no limits"


def test_every_deployment_and_statefulset_has_probes(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    name, objects = rendering
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    assert bool(workloads) == (name != "external_store")  # the in-chart object store
    for o in workloads:
        for c in o["spec"]["template"]["spec"]["containers"]:
            assert c.get("readinessProbe") and c.get("livenessProbe"), f"{o['metadata']['name']}/{c['name']}"


# Ports, groups, store, ingress, upgrades -----------------------------------------------------------
def test_http_8000_and_grpc_9000_on_every_ray_container(rendering: tuple[str, list[dict[str, Any]]]) -> None:
    rs = one(rendering[1], "RayService")
    for group, template in ray_pod_templates(rs).items():
        ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
        assert ports["serve"] == 8000 and ports["serve-grpc"] == 9000, group
    svc_ports = {p["name"]: p for p in rs["spec"]["serveService"]["spec"]["ports"]}
    assert svc_ports["serve-grpc"]["port"] == 9000 and svc_ports["serve-grpc"]["appProtocol"] == "kubernetes.io/h2c"


def test_gpu_group_only_when_switched_on() -> None:
    groups = {g["groupName"]: g for g in one(render(), "RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu"}
    cluster = one(render(SCENARIOS["gpu_workers"]), "RayService")["spec"]["rayClusterConfig"]
    gpu = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}["gpu"]
    container = gpu["template"]["spec"]["containers"][0]
    assert (gpu["replicas"], gpu["maxReplicas"]) == (2, 6)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1 and container["image"].endswith("-cuda")
    no_workers = {"worker": {"disabled": True}}
    assert "workerGroupSpecs" not in one(render(no_workers), "RayService")["spec"]["rayClusterConfig"]


def test_in_chart_store_is_a_statefulset_with_a_claim_and_a_service() -> None:
    objects = render({"objectStore": {"inChart": {"image": {"repository": "example/s3", "tag": "9"}}}})
    sts = one(objects, "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "example/s3:9"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert one(objects, "Service")["metadata"]["name"] == f"{FULLNAME}-objectstore"
    external = render(SCENARIOS["external_store"])
    assert not [o for o in external if o["kind"] in ("StatefulSet", "Service", "Secret")]  # existing Secrets named


def test_ingress_routes_to_the_serve_service_and_the_policy_admits_its_controller() -> None:
    objects = render(SCENARIOS["ingress"])
    backend = one(objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{FULLNAME}-serve-svc", "port": {"number": 8000}}
    peers = [peer for rule in policy(objects, "ray")["spec"]["ingress"] for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in peers
    assert not [o for o in render() if o["kind"] == "Ingress"]


def test_only_ray_pods_reach_the_object_store() -> None:
    (rule,) = policy(render(), "objectstore")["spec"]["ingress"]
    assert rule["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]] == ["ray"]


@pytest.mark.parametrize("strategy", ["NewCluster", "None", "NewClusterWithIncrementalUpgrade"])
def test_upgrade_strategy_from_values(strategy: str) -> None:
    options = {"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30}
    values = {"upgradeStrategy": {"type": strategy, "clusterUpgradeOptions": options}}
    upgrade = one(render(values), "RayService")["spec"]["upgradeStrategy"]
    assert upgrade["type"] == strategy
    assert upgrade.get("clusterUpgradeOptions") == (options if strategy == "NewClusterWithIncrementalUpgrade" else None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"upgradeStrategy": {"type": "BlueGreen"}}, "upgradeStrategy.type"),
        ({"upgradeStrategy": {"type": "NewClusterWithIncrementalUpgrade"}}, "clusterUpgradeOptions"),
        ({"objectStore": {"mode": "external"}}, "objectStore.external.endpoint is empty"),
        ({"objectStore": {"mode": "external", "external": {"endpoint": "https://s3:443"}}}, "without a scheme"),
        ({"objectStore": {"mode": "s3"}}, "objectStore.mode"),
        ({"modelVolume": {"enabled": True}}, "modelVolume.claimName"),
    ],
)
def test_bad_values_fail_with_what_to_change(values: dict[str, Any], message: str) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match=message):
        render(values)


def test_notes_say_how_to_call_the_api() -> None:
    text = notes()
    assert f"svc/{FULLNAME}-serve-svc 8000 9000" in text
    assert "/v1/generate" in text and "GeneratorService/Generate" in text
    assert "Applications: reward, generator, coordinator, trainer, gateway" in text


def test_ray_pods_run_as_the_images_non_root_user() -> None:
    for group, template in ray_pod_templates(one(render(SCENARIOS["gpu_workers"]), "RayService")).items():
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, group


def test_values_yaml_comments_every_field() -> None:
    """Each key has a comment right above it, unless it lies inside a field whose `# --` comment covers it."""
    uncommented = []
    covered_below: list[int] = []  # indents of commented fields, whose contents need no comment of their own
    comment = ""  # the first line of the comment block right above the current line, if any
    for number, line in enumerate((CHART / "values.yaml").read_text().splitlines(), 1):
        text = line.strip()
        key = re.match(r"^(\s*)[A-Za-z][\w.\-/]*:", line)
        if key:
            indent = len(key.group(1))
            covered_below = [i for i in covered_below if i < indent]
            if comment.startswith("# --"):  # a field's comment: it covers what the field holds
                covered_below.append(indent)
            elif not comment and not covered_below:  # a section's plain comment covers only the section key
                uncommented.append(f"{number}: {text}")
        if text.startswith("#"):
            comment = comment or text
        elif text:
            comment = ""
    assert not uncommented, uncommented


def test_no_application_falls_back_to_a_laptop_path() -> None:
    """Config defaults that point into the repository (weights/, data/) exist only on a laptop: the chart must
    override each one (store URL, or a model location in values.yaml), including for a newly added app."""
    from t2ialign.paths import REPO_ROOT
    from t2ialign.serving.app import ServeArgs

    apps = {a["name"]: a["args"] for a in serve_config_of(render())["applications"]}
    effective = ServeArgs.model_validate(apps).model_dump(mode="json", include=set(apps))

    def local_paths(node: Any, where: str) -> list[str]:
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in local_paths(v, f"{where}.{k}")]
        return [f"{where} = {node}"] if isinstance(node, str) and node.startswith(str(REPO_ROOT)) else []

    assert not local_paths(effective, "applications"), "set these in values.yaml's applications.<name>.config"
