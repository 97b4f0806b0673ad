"""Render helm/t2ialign with helm-python-sdk (Helm v4's Go SDK in-process: no helm binary, no cluster)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from t2ialign.paths import REPO_ROOT

CHART = REPO_ROOT / "helm" / "t2ialign"
RELEASE, NAMESPACE = "demo", "t2i"
FULLNAME = f"{RELEASE}-t2ialign"

# Secret values handed to the chart; none may appear in a rendered object other than a Secret.
API_KEYS = "apikey-user-5f0c9e1d:user,apikey-admin-8b7a6c5d:admin"
S3_ACCESS, S3_SECRET = "s3access-3c1f9a7e", "s3secret-9d2e4b6a0f"
WITH_SECRETS = {
    "apiKeys": {"keys": API_KEYS},
    "objectStore": {"credentials": {"accessKey": S3_ACCESS, "secretKey": S3_SECRET}},
}

# The renderings the issue names, each with the values that make it.
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "gpu_workers": {
        "additionalWorkerGroups": {"gpu": {"disabled": False, "replicas": 2, "maxReplicas": 6}},
        "applications": {"generator": {"scaling": {"num_gpus": 1}}},
    },
    "external_store": {
        "objectStore": {
            "mode": "external",
            "bucket": "team-t2i",
            "external": {"endpoint": "s3.eu-west-1.amazonaws.com", "secure": True, "region": "eu-west-1"},
            "credentials": {"existingSecret": "team-s3", "accessKeyKey": "AWS_ACCESS_KEY_ID"},
        },
        "apiKeys": {"existingSecret": "team-api-keys"},
    },
    "ingress": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "t2ialign.example.com",
            "tls": [{"secretName": "t2ialign-tls", "hosts": ["t2ialign.example.com"]}],
        }
    },
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def render_files(values: dict[str, Any] | None = None) -> dict[str, str]:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders (NOTES.txt left out)."""
    objects = []
    for path, text in render_files(values).items():
        if Path(path).suffix in (".yaml", ".yml"):
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(values: dict[str, Any] | None = None) -> str:
    return next(text for path, text in render_files(values).items() if path.endswith("NOTES.txt"))


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def ray_pod_templates(rayservice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cluster = rayservice["spec"]["rayClusterConfig"]
    templates = {"head": cluster["headGroupSpec"]["template"]}
    for group in cluster.get("workerGroupSpecs", []):
        templates[group["groupName"]] = group["template"]
    return templates


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod spec in the rendering, by a readable name: workloads and the RayService's groups."""
    specs = {}
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            specs[f"{o['kind']}/{o['metadata']['name']}"] = o["spec"]["template"]["spec"]
        if o["kind"] == "RayService":
            for group, template in ray_pod_templates(o).items():
                specs[f"RayService/{group}"] = template["spec"]
    return specs
