"""The chart's serveConfigV2, deployed the way KubeRay deploys it (the whole config handed to the Serve
controller), on a real local Ray with the store on moto's S3 server: the base models uploaded with
`t2ialign store upload` to the prefixes values.yaml names, then one REST Generate and one gRPC
Score with a key from the environment, as the chart's Secret provides it. Only the proxies' listen address
and ports are changed (loopback, free ports), so other tests on the machine are not disturbed."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import yaml

from t2ialign.cli import main as t2ialign_cli
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, DEFAULT_REWARD

from .chart import one, render

pytestmark = [pytest.mark.integration, pytest.mark.slow]
USER_KEY = "chart-user-key-0123"
BUCKET = "t2ialign-chart"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[str, str]]:
    import ray
    from moto.server import ThreadedMotoServer
    from ray import serve
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    from t2ialign.serving.serve_config import CHART_FILE

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = "{}:{}".format(*moto.get_host_and_port())
    environment = yaml.safe_load(CHART_FILE.read_text())["environment"]
    env = environment | {
        "T2IALIGN_API_KEYS": f"{USER_KEY}:user",
        "T2IALIGN_S3_ACCESS_KEY": "testing",
        "T2IALIGN_S3_SECRET_KEY": "testing-secret",
    }
    patch = pytest.MonkeyPatch()
    for name, value in env.items():  # before ray.init: the replicas and proxies inherit it, as from the pod's env
        patch.setenv(name, value)
    try:
        store_url = f"s3://{BUCKET}?endpoint={endpoint}&secure=false"
        models = {DEFAULT_CLIP: "clip", DEFAULT_GENERATOR: "generator", DEFAULT_REWARD: "reward"}
        for folder, prefix in ((folder, f"models/toy/{name}") for folder, name in models.items()):
            t2ialign_cli(["store", "upload", str(folder), prefix, "--store", store_url])
        values = {
            "objectStore": {"mode": "external", "bucket": BUCKET, "external": {"endpoint": endpoint, "secure": False}}
        }
        config = yaml.safe_load(one(render(values), "RayService")["spec"]["serveConfigV2"])
        http_port, grpc_port = free_port(), free_port()
        config["http_options"] |= {"host": "127.0.0.1", "port": http_port}
        config["grpc_options"]["port"] = grpc_port
        schema = ServeDeploySchema.model_validate(config)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        serve.start(
            proxy_location=config["proxy_location"],
            http_options=config["http_options"],
            grpc_options=config["grpc_options"],
        )
        _get_global_client().deploy_apps(schema)  # what the dashboard does with KubeRay's submission
        deadline = time.monotonic() + 600
        while True:
            apps = serve.status().applications
            states = {name: str(app.status) for name, app in apps.items()}
            if len(states) == len(config["applications"]) and all(s.endswith("RUNNING") for s in states.values()):
                break
            failed = {n: apps[n].message for n, s in states.items() if s.endswith("DEPLOY_FAILED")}
            assert not failed, failed
            assert time.monotonic() < deadline, f"applications not RUNNING after 600 s: {states}"
            time.sleep(2)
        yield f"http://127.0.0.1:{http_port}", f"grpc://127.0.0.1:{grpc_port}"
    finally:
        serve.shutdown()
        ray.shutdown()
        moto.stop()
        patch.undo()


def test_rendered_config_serves_rest_and_grpc(deployed: tuple[str, str]) -> None:
    from t2ialign.client import GeneratorClient, RewardClient

    http, grpc_url = deployed
    out = GeneratorClient(http, USER_KEY).generate(
        "a red circle", num_images=2, num_inference_steps=2, seed=3, return_images=True
    )
    assert len(out["images"]) == 2 and out["images"][0]["key"].startswith("images/")
    scores = RewardClient(grpc_url, USER_KEY).score("a red circle", [x["png"] for x in out["images"]])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
