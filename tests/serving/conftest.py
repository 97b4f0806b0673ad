"""One real local Ray Serve (HTTP + gRPC proxies on free loopback ports) with the four apps on tiny random
models, shared by every serving test module (package scope). Startup takes about half a minute on 2 cores."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES
from t2ialign.store import LocalStore, ObjectStore

from .models import build_toy_models, publish_reward_version, publish_unet_version

USER_KEY, ADMIN_KEY = "user-key-0123", "admin-key-0123"
RATER_KEYS = {"alice": "rater-key-alice", "bob": "rater-key-bob0"}  # key:rater@name (docs/LABELING.md)
REWARD_VERSION, UNET_VERSION = "rw-test", "unet-test-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Serving:
    http: str  # http://127.0.0.1:<port>
    grpc_target: str  # 127.0.0.1:<port>
    channel: grpc.Channel
    store: ObjectStore
    root: Path


@contextmanager
def run_serving(
    root: Path, generator_replicas: int = 1, generator_cpus: float = 0.5, coordinator: dict | None = None
) -> Iterator[Serving]:
    """Ray + Serve with the four apps on tiny models under `root` (store at root/store); shut down after."""
    import ray
    from ray import serve

    from t2ialign.serving.app import ServeArgs, init_local_ray, set_grpc_message_limit, start_all

    clip_dir, generator_dir = build_toy_models(root / "models")
    store_dir = root / "store"
    store = LocalStore(store_dir)
    publish_reward_version(store, clip_dir, REWARD_VERSION, root)
    publish_unet_version(store, generator_dir, UNET_VERSION, seed=7, work=root)

    saved = {k: os.environ.get(k) for k in ("T2IALIGN_API_KEYS",)}
    raters = "".join(f",{k}:rater@{name}" for name, k in RATER_KEYS.items())
    os.environ["T2IALIGN_API_KEYS"] = f"{USER_KEY}:user,{ADMIN_KEY}:admin{raters}"
    set_grpc_message_limit()
    http_port, grpc_port = free_port(), free_port()
    scaling = {"num_replicas": 1, "num_cpus": 0.5}
    args = ServeArgs.model_validate(
        {
            "reward": {"config": {"store_url": str(store_dir), "clip": str(clip_dir)}, "scaling": scaling},
            "generator": {
                "config": {"store_url": str(store_dir), "model": str(generator_dir), "default_num_inference_steps": 2},
                "scaling": {**scaling, "num_replicas": generator_replicas, "num_cpus": generator_cpus},
            },
            "coordinator": {
                "config": {
                    "store_url": str(store_dir),
                    "model": str(generator_dir),
                    "clip": str(clip_dir),
                    "poll_s": 0.2,
                    **(coordinator or {}),
                }
            },
            "trainer": {"config": {"store_url": str(store_dir), "model": str(generator_dir), "clip": str(clip_dir)}},
            "http_port": http_port,
            "grpc_port": grpc_port,
        }
    )
    init_local_ray(num_cpus=2)
    channel = None
    try:
        start_all(args)
        opts = [
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
        ]
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=opts)
        yield Serving(f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", channel, store, root)
    finally:
        if channel is not None:
            channel.close()
        serve.shutdown()
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="package")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    with run_serving(tmp_path_factory.mktemp("serving")) as s:
        yield s
