"""Jobs outlive their trainer replica and their workers, stop when cancelled, and never hang waiting for CPUs.

Bounds (the fixture's trainer config): a job that cannot get its workers fails within placement_timeout_s
(12 s) of being accepted; a cancelled job is CANCELLED within one step plus the poll interval (0.5 s), at
most cancel_grace_s (5 s) when a step hangs, and its CPUs are free right after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest
import ray

from t2ialign.trainer.runner import runner_name
from t2ialign.v1 import trainer_pb2

from .conftest import CANCEL_GRACE_S, PLACEMENT_TIMEOUT_S

pytestmark = [pytest.mark.slow, pytest.mark.integration]
RUNNING = trainer_pb2.JOB_STATE_RUNNING


def _start(trainer, steps: int, workers: int = 0, seed: int = 0) -> str:
    req = trainer_pb2.StartFinetuneRequest(
        round_ids=["r1"], num_train_steps=steps, batch_size=4, seed=seed, num_workers=workers
    )
    return trainer.stub.StartFinetune(req, metadata=trainer.metadata()).job.job_id


def _runner_info(trainer, job_id: str) -> dict:
    actor = ray.get_actor(runner_name(job_id), namespace="t2ialign-trainer")
    return ray.get(actor.info.remote())


def _replica_names() -> list[str]:
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "SERVE_REPLICA::trainer" in a["name"]]


def test_killed_worker_resumes_and_restarted_replica_reports(trainer) -> None:
    job_id = _start(trainer, steps=40, seed=1)
    # Checkpoints every 2 steps; Train's controller registers a reported checkpoint when it next polls the
    # workers (seconds), so kill well after the first ones.
    trainer.wait(job_id, until=lambda j: j.state == RUNNING and j.step >= 12)
    # 1. Kill the rank-0 worker: FailureConfig restarts the group, which resumes from the last checkpoint.
    os.kill(_runner_info(trainer, job_id)["worker_pid"], signal.SIGKILL)
    # 2. Kill the trainer replica too: Serve starts a new one, which reads the job from the store and its runner.
    old = _replica_names()
    ray.kill(ray.get_actor(old[0], namespace="serve"), no_restart=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not _replica_names() or _replica_names() == old):
        time.sleep(0.5)
    job = trainer.wait(job_id, timeout=300)  # GetJob retries land on the new replica
    assert job.state == trainer_pb2.JOB_STATE_SUCCEEDED, job.error
    assert job.metrics["worker_restarts"] >= 1 and job.metrics["resumed_from_step"] >= 2
    assert job.step == job.total_steps == 40 and job.output.version


def test_waiting_job_fails_within_the_bound_and_cancel_frees_resources(trainer) -> None:
    long_job = _start(trainer, steps=100_000, seed=2)  # holds 1 of the 2 CPUs
    trainer.wait(long_job, until=lambda j: j.state == RUNNING and j.step >= 1)
    # 1. Two more workers cannot be placed beside it: QUEUED, then FAILED once placement_timeout_s is over.
    waiting = _start(trainer, steps=3, workers=2)
    assert trainer.get(waiting).state == trainer_pb2.JOB_STATE_QUEUED
    failed = trainer.wait(waiting, timeout=PLACEMENT_TIMEOUT_S + 15)
    created = failed.created_at.ToNanoseconds() / 1e9
    assert failed.state == trainer_pb2.JOB_STATE_FAILED and "RESOURCE_EXHAUSTED" in failed.error, failed.error
    assert failed.finished_at.ToNanoseconds() / 1e9 - created <= PLACEMENT_TIMEOUT_S + 5
    # 2. Cancel the running job: CANCELLED within the grace period, no version published, CPUs free again.
    t0 = time.monotonic()
    cancelled = trainer.stub.CancelJob(trainer_pb2.CancelJobRequest(job_id=long_job), metadata=trainer.metadata()).job
    assert cancelled.state == trainer_pb2.JOB_STATE_CANCELLED and not cancelled.output.version
    assert time.monotonic() - t0 <= CANCEL_GRACE_S + 2
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert ray.available_resources().get("CPU", 0) == 2


def test_a_hung_worker_is_hard_stopped_and_its_placement_group_removed(trainer) -> None:
    job_id = _start(trainer, steps=100_000, seed=3)
    trainer.wait(job_id, until=lambda j: j.state == RUNNING and j.step >= 1)
    worker = _runner_info(trainer, job_id)["worker_pid"]
    os.kill(worker, signal.SIGSTOP)  # a step that never ends: the stop flag is never read
    try:
        t0 = time.monotonic()
        cancelled = trainer.stub.CancelJob(trainer_pb2.CancelJobRequest(job_id=job_id), metadata=trainer.metadata()).job
        assert cancelled.state == trainer_pb2.JOB_STATE_CANCELLED and "hard-stopped" in cancelled.error
        assert time.monotonic() - t0 <= CANCEL_GRACE_S + 5
        # The runner's exit takes Train's controller with it, but not the workers' placement group: the runner
        # removes it, so the job's CPU is free for the next job (it used to stay reserved until Serve's job ended).
        deadline = time.monotonic() + 20
        while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert ray.available_resources().get("CPU", 0) == 2, ray.util.placement_group_table()
        assert not [g for g in ray.util.placement_group_table().values() if g["state"] == "CREATED"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGCONT)
