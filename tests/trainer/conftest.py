"""A real local Ray (2 CPUs) with Serve's gRPC proxy and only the trainer app, on tiny random models, and a
store holding two rounds of rendered images (r1 labeled, r2 unlabeled) and a reward version behind the
serving pointer. Package scope: Ray starts once for every trainer test (about 20 s on 2 cores)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest

from t2ialign.models.precision import DTYPE_ENV
from t2ialign.store import LocalStore, ObjectStore
from t2ialign.toyworld.grammar import CATEGORIES, sample_prompt
from t2ialign.toyworld.render import render
from t2ialign.training.feedback import FeedbackSet, save_feedback
from t2ialign.v1 import trainer_pb2, trainer_pb2_grpc

from ..serving.conftest import ADMIN_KEY, REWARD_VERSION, USER_KEY, free_port
from ..serving.models import build_toy_models, publish_reward_version

PLACEMENT_TIMEOUT_S = 12.0  # the fixture's trainer: a job that cannot get its workers fails after this
CANCEL_GRACE_S = 5.0
TRAINER_SERVICER = "t2ialign.v1.trainer_pb2_grpc.add_TrainerServiceServicer_to_server"
TERMINAL = (trainer_pb2.JOB_STATE_SUCCEEDED, trainer_pb2.JOB_STATE_FAILED, trainer_pb2.JOB_STATE_CANCELLED)


@dataclass
class Trainer:
    stub: trainer_pb2_grpc.TrainerServiceStub
    store: ObjectStore
    root: Path
    generator_dir: Path
    clip_dir: Path

    def metadata(self, key: str = ADMIN_KEY) -> tuple[tuple[str, str], ...]:
        return (("application", "trainer"), ("authorization", f"Bearer {key}"))

    def get(self, job_id: str) -> trainer_pb2.Job:
        return self.stub.GetJob(trainer_pb2.GetJobRequest(job_id=job_id), metadata=self.metadata()).job

    def wait(self, job_id: str, until=lambda j: j.state in TERMINAL, timeout: float = 180) -> trainer_pb2.Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if until(job):
                return job
            time.sleep(0.25)
        raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")


def _round(store: ObjectStore, round_id: str, n: int, labeled: bool, seed: int) -> None:
    rng = random.Random(seed)
    specs = [sample_prompt(rng, CATEGORIES[i % len(CATEGORIES)]) for i in range(n)]
    images = np.stack([render(s, seed=i) for i, s in enumerate(specs)])
    labels = [i % 2 for i in range(n)] if labeled else [None] * n
    ids = [f"{round_id}-{i:03d}" for i in range(n)]
    save_feedback(FeedbackSet(images, [s.text for s in specs], labels, ids, round_id), store)


@pytest.fixture(scope="package")
def trainer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trainer]:
    import ray
    from ray import serve
    from ray.serve.config import gRPCOptions

    from t2ialign.serving.app import TrainerAppArgs, build_trainer_app

    root = tmp_path_factory.mktemp("trainer")
    clip_dir, generator_dir = build_toy_models(root / "models")
    store = LocalStore(root / "store")
    publish_reward_version(store, clip_dir, REWARD_VERSION, root)
    _round(store, "r1", 16, labeled=True, seed=1)
    _round(store, "r2", 8, labeled=False, seed=2)

    saved = {k: os.environ.get(k) for k in ("T2IALIGN_API_KEYS", DTYPE_ENV)}
    os.environ["T2IALIGN_API_KEYS"] = f"{USER_KEY}:user,{ADMIN_KEY}:admin"
    # fp32 in the workers (Ray's processes inherit this environment): the DDP test compares one rank's update with
    # two ranks' half-batches, and bf16 autocast rounds those differently (8.7% of the step against 0.9% in fp32)
    os.environ[DTYPE_ENV] = "float32"
    grpc_port = free_port()
    for attempt in range(3):  # the raylet waits ~15 s for its agents; a loaded machine can miss that
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    channel = None
    try:
        serve.start(
            http_options={"host": "127.0.0.1", "port": free_port()},
            grpc_options=gRPCOptions(port=grpc_port, grpc_servicer_functions=[TRAINER_SERVICER]),
        )
        config = {
            "store_url": str(root / "store"),
            "model": str(generator_dir),
            "clip": str(clip_dir),
            "runs_path": str(root / "runs"),
            "placement_timeout_s": PLACEMENT_TIMEOUT_S,
            "cancel_grace_s": CANCEL_GRACE_S,
            "checkpoint_every_steps": 2,
            "progress_persist_s": 0.5,
        }
        app = build_trainer_app(TrainerAppArgs.model_validate({"config": config, "scaling": {"num_cpus": 0}}))
        serve.run(app, name="trainer", route_prefix="/trainer")
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        yield Trainer(trainer_pb2_grpc.TrainerServiceStub(channel), store, root, generator_dir, clip_dir)
    finally:
        if channel is not None:
            channel.close()
        serve.shutdown()
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
