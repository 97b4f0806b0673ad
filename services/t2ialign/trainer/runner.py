"""One detached, named Ray actor per job: it owns the job's TorchTrainer run and its record.

`trainer.fit()` blocks and its run belongs to the calling process, so a run started inside a Serve replica
would die with the replica. The runner (0 CPU, detached) runs `fit()` in a thread of its own and outlives any
replica; the record it keeps is written to the object store on every state change and every few seconds
of progress (jobs.py), where a restarted replica finds it.

Bounds: a job that cannot get its workers fails within placement_timeout_s (the runner waits for
ray.available_resources() first; Ray Train's own worker-group start is bounded by the same timeout and
controller_failure_limit=0, so it never retries an unplaceable group forever). CancelJob sets a stop flag
the workers read between steps; after cancel_grace_s the runner records CANCELLED, aborts Train's controller
(its own graceful abort: workers, then their placement group; ray.kill if that hangs) and exits. Only then
does it remove every group the controller reported (controller_link.py): a group outlives a controller that
dies (Ray keeps a non-detached group until its creator's job ends, and the job here is Serve's), and removing
one under a live controller makes it start a new group, which nobody would remove.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import ray

from t2ialign.serving import storage
from t2ialign.trainer import jobs
from t2ialign.trainer.config import TrainerServiceConfig
from t2ialign.trainer.jobs import JobRecord

log = logging.getLogger("t2ialign.trainer")
WORKER_GROUP_START_TIMEOUT_ENV = "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"  # read by Train's controller


def runner_name(job_id: str) -> str:
    return f"t2ialign-job-{job_id}"


def needed_resources(cfg: TrainerServiceConfig, num_workers: int) -> dict[str, float]:
    return {"GPU": float(num_workers)} if cfg.use_gpu else {"CPU": num_workers * cfg.cpus_per_worker}


def describe(resources: dict[str, float]) -> str:
    return ", ".join(f"{v:g} {k}" for k, v in sorted(resources.items())) or "nothing"


def launch(job: JobRecord, cfg: TrainerServiceConfig) -> Any:
    """Create the job's runner and start it; returns the actor handle."""
    env = {WORKER_GROUP_START_TIMEOUT_ENV: str(cfg.placement_timeout_s)}
    actor = JobRunner.options(
        name=runner_name(job.job_id),
        namespace=cfg.namespace,
        lifetime="detached",
        runtime_env={"env_vars": env},
    ).remote(job.to_dict(), cfg.model_dump())
    actor.start.remote()
    return actor


@ray.remote(num_cpus=0, max_concurrency=8, max_restarts=0)
class JobRunner:
    def __init__(self, job: dict[str, Any], service: dict[str, Any]):
        self.cfg = TrainerServiceConfig(**service)
        self.store = storage.connect(self.cfg.store_url)
        self.job = JobRecord.from_dict(job)
        self.lock = threading.Lock()
        self.worker_pid: int | None = None
        self.placement_groups: set[str] = set()  # hex ids, one per worker-group start
        self.controller: Any = None  # Train's controller, reported by controller_link.RunnerLink
        self._persisted = 0.0

    # Called by the deployment --------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._run, name=f"job-{self.job.job_id}", daemon=True).start()

    def get(self) -> dict[str, Any]:
        with self.lock:
            return self.job.to_dict()

    def info(self) -> dict[str, Any]:
        """For tests and operators: the rank-0 worker's process id."""
        return {"worker_pid": self.worker_pid, "pid": os.getpid()}

    def cancel(self) -> dict[str, Any]:
        with self.lock:
            if not self.job.terminal and not self.job.cancel_requested:
                self.job.cancel_requested = True
                self._persist()
                threading.Thread(target=self._hard_stop, daemon=True).start()
            return self.job.to_dict()

    # Called by Train's controller (controller_link.RunnerLink) ------------------------------------
    def holds_controller(self, controller: Any) -> None:
        with self.lock:
            self.controller = controller

    def holds_placement_group(self, group_hex: str) -> None:
        with self.lock:
            self.placement_groups.add(group_hex)

    # Called by the rank-0 worker -----------------------------------------------------------------
    def progress(self, step: int, total: int, metrics: dict[str, float], pid: int) -> bool:
        """Record progress; returns the stop flag."""
        with self.lock:
            if self.job.state == "queued":
                self.job.state, self.job.started_at = "running", time.time()
                self._persist()
            if self.worker_pid is not None and pid != self.worker_pid:  # FailureConfig restarted the workers
                self.job.metrics["worker_restarts"] = self.job.metrics.get("worker_restarts", 0) + 1
                self._persisted = 0.0  # write the restart at once
            self.job.step, self.job.total_steps, self.worker_pid = step, total, pid
            self.job.metrics.update(metrics)
            if time.time() - self._persisted >= self.cfg.progress_persist_s:
                self._persist()
            return self.job.cancel_requested

    def published(self, version: str, parent_version: str, metrics: dict[str, float]) -> None:
        with self.lock:
            self.job.output_version, self.job.input_version = version, parent_version or self.job.input_version
            self.job.metrics.update(metrics)

    # The job's thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if not self._wait_for_resources():
                return
            result = self._fit()
            with self.lock:
                if self.job.cancel_requested:
                    self._finish("cancelled")
                elif result is not None:
                    self._finish("failed", result)
                elif self.job.output_version:
                    self.job.step = self.job.total_steps
                    self._finish("succeeded")
                else:
                    self._finish("failed", "training ended without publishing a model; see the worker logs")
        except Exception as e:  # never leave a job running in the record
            log.exception("job %s", self.job.job_id)
            with self.lock:
                self._finish("failed", f"{type(e).__name__}: {e}")
        self._release_placement_groups()
        self._exit_soon()

    def _wait_for_resources(self) -> bool:
        need = needed_resources(self.cfg, self.job.num_workers)
        deadline = self.job.created_at + self.cfg.placement_timeout_s  # from acceptance, not from actor start
        while True:
            with self.lock:
                if self.job.cancel_requested:
                    self._finish("cancelled")
                    return False
            free = ray.available_resources()
            if all(free.get(k, 0.0) >= v - 1e-9 for k, v in need.items()):
                return True
            if time.time() > deadline:
                with self.lock:
                    self._finish(
                        "failed",
                        f"RESOURCE_EXHAUSTED: the job needs {describe(need)} for {self.job.num_workers} worker(s); "
                        f"after {self.cfg.placement_timeout_s:g} s only "
                        f"{describe({k: free.get(k, 0.0) for k in need})} is free. Wait for other jobs, scale "
                        "replicas down, or ask for fewer workers",
                    )
                return False
            time.sleep(0.5)

    def _fit(self) -> str | None:
        """Run the TorchTrainer; returns an error message, or None if fit() returned."""
        from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        from t2ialign.trainer.controller_link import RunnerLink
        from t2ialign.trainer.workers import train_loop

        per_worker = {} if self.cfg.use_gpu else {"CPU": self.cfg.cpus_per_worker}
        trainer = TorchTrainer(
            train_loop,
            train_loop_config={
                "job_id": self.job.job_id,
                "spec": self.job.spec,
                "service": self.cfg.model_dump(),
                "runner": runner_name(self.job.job_id),
            },
            scaling_config=ScalingConfig(
                num_workers=self.job.num_workers, use_gpu=self.cfg.use_gpu, resources_per_worker=per_worker or None
            ),
            run_config=RunConfig(
                name=self.job.job_id,
                storage_path=self.cfg.runs_path,
                failure_config=FailureConfig(max_failures=self.cfg.max_failures, controller_failure_limit=0),
                checkpoint_config=CheckpointConfig(num_to_keep=2),
                callbacks=[RunnerLink(runner_name(self.job.job_id), self.cfg.namespace)],
            ),
        )
        try:
            trainer.fit()
            return None
        except Exception as e:
            return _short_error(e)

    def _hard_stop(self) -> None:
        time.sleep(self.cfg.cancel_grace_s)
        with self.lock:
            if self.job.terminal:
                return
            self._finish("cancelled", f"hard-stopped: the workers did not stop within {self.cfg.cancel_grace_s:g} s")
        log.warning("job %s: hard stop", self.job.job_id)
        self._stop_controller()
        self._release_placement_groups()
        os._exit(0)  # takes anything else this process owns with it

    def _finish(self, state: str, error: str = "") -> None:
        """Enter a terminal state (caller holds the lock); the first terminal state wins."""
        if self.job.terminal:
            return
        self.job.state, self.job.error, self.job.finished_at = state, error[:4096], time.time()
        self._persist()

    def _persist(self) -> None:
        jobs.save(self.store, self.job)
        self._persisted = time.time()

    def _stop_controller(self) -> None:
        """Abort Train's controller and wait until it is gone, so that it cannot start another worker group."""
        with self.lock:
            controller = self.controller
        if controller is None:  # fit() has not got that far: no worker group yet
            return
        try:  # abort() stops the workers (5 s patience, then kill), removes their group and exits the actor
            ray.get(controller.abort.remote(), timeout=self.cfg.cancel_grace_s + 10)
        except ray.exceptions.RayActorError:
            return  # it exited, as abort() does when it is done
        except Exception as e:
            log.warning("job %s: Train's controller did not abort (%s); killing it", self.job.job_id, e)
        ray.kill(controller, no_restart=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                ray.get(controller.__ray_ready__.remote(), timeout=1)
            except ray.exceptions.RayActorError:
                return
            except ray.exceptions.GetTimeoutError:
                pass
            time.sleep(0.2)

    def _release_placement_groups(self) -> None:
        """Remove the workers' placement groups (a no-op for those Train's controller already removed)."""
        from ray.util.placement_group import PlacementGroup, remove_placement_group

        with self.lock:
            held, self.placement_groups = self.placement_groups, set()
        groups = [PlacementGroup(ray.PlacementGroupID.from_hex(group_hex)) for group_hex in held]
        for group in groups:
            try:
                remove_placement_group(group)
            except Exception as e:  # already gone, or the GCS is busy: the job's outcome stands either way
                log.info("job %s: placement group %s: %s", self.job.job_id, group.id.hex(), e)
        # Removal is asynchronous; a hard stop exits right after, so wait until the GCS has done it.
        deadline = time.monotonic() + 10
        while groups and time.monotonic() < deadline:
            groups = [g for g in groups if ray.util.placement_group_table(g).get("state") not in ("REMOVED", None)]
            if groups:
                time.sleep(0.2)
        if groups:
            log.warning("job %s: placement groups still held after 10 s: %s", self.job.job_id, groups)

    def _exit_soon(self) -> None:
        """The record is in the store; free the actor's name and process shortly after (pending calls finish)."""
        time.sleep(2.0)
        ray.kill(ray.get_actor(runner_name(self.job.job_id), namespace=self.cfg.namespace))


def _short_error(e: Exception) -> str:
    """Ray Train's error text ends with the worker's exception; keep the last lines that say what happened."""
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: " + " | ".join(lines[-3:])[:3000]
