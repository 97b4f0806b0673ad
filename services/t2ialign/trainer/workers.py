"""The Ray Train worker loop of a job: `train_loop` runs on every worker of a TorchTrainer.

Each worker runs the same library loop (tasks.py) with LoopHooks: its rank and the world size (Ray Train set
up the process group, gloo on CPUs, NCCL on GPUs), the UNet wrapped in DDP, the last checkpoint to resume
from (`ray.train.get_checkpoint()`, after FailureConfig restarted the worker group), and `Steering`, which
reports progress to the job's runner actor, checks its stop flag and writes checkpoints through
`ray.train.report`. Rank 0 publishes the result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import ray
import ray.train

from t2ialign.trainer.config import TrainerServiceConfig

PROGRESS_FILE = "progress.json"  # beside state/ in a checkpoint: the optimizer step it was taken at
POLL_S = 0.5  # rank 0 reports progress and reads the stop flag at most this often


class Steering:
    """LoopHooks.on_step for one worker: progress, the stop flag (the same answer on every rank), checkpoints."""

    def __init__(self, runner: Any, rank: int, world_size: int, every: int, work: Path, resumed_from: int = 0):
        self.runner, self.rank, self.world_size, self.every, self.work = runner, rank, world_size, every, work
        self.stopped = False
        self._last_poll, self._last_checkpoint = 0.0, resumed_from
        self._extra = {"resumed_from_step": float(resumed_from)} if resumed_from else {}
        self._first: tuple[int, float] | None = None  # (step, time) of the first step this worker ran

    def __call__(self, info: Any) -> bool:  # info: training.hooks.StepInfo
        stop = 0
        now = time.monotonic()
        self._first = self._first or (info.step, now)
        if self.rank == 0 and (now - self._last_poll >= POLL_S or info.step == info.total_steps):
            self._last_poll = now
            metrics = {k: float(v) for k, v in info.metrics.items() if isinstance(v, int | float)} | self._extra
            if info.step > self._first[0]:  # steady-state throughput, set-up excluded (benchmarks/bench_trainer.py)
                metrics["steps_per_second"] = (info.step - self._first[0]) / (now - self._first[1])
            stop = int(ray.get(self.runner.progress.remote(info.step, info.total_steps, metrics, os.getpid())))
        if self.world_size > 1:  # every rank must stop at the same step, or the others wait in all_reduce
            import torch
            import torch.distributed as dist

            flag = torch.tensor([stop])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = int(flag.item())
        self.stopped = bool(stop)
        due = info.step - self._last_checkpoint >= self.every and info.step < info.total_steps
        if info.save is not None and due and not self.stopped:  # the same decision on every rank (a barrier)
            self._last_checkpoint = info.step
            self._checkpoint(info)
        return self.stopped

    def _checkpoint(self, info: Any) -> None:
        metrics = {"step": info.step, **{k: float(v) for k, v in info.metrics.items()}}
        if self.rank != 0:
            ray.train.report(metrics)
            return
        folder = Path(tempfile.mkdtemp(dir=self.work, prefix=f"ckpt-{info.step}-"))
        info.save(folder / "state")
        (folder / PROGRESS_FILE).write_text(json.dumps({"step": info.step}))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(folder)))
        shutil.rmtree(folder, ignore_errors=True)


def train_loop(config: dict[str, Any]) -> None:
    """Ray Train's train_loop_per_worker. config: {"job_id", "spec", "service", "runner"}."""
    import torch  # heavy imports here: the runner and Train's controller unpickle this module too
    from ray.train.torch import prepare_model

    from t2ialign.serving import storage
    from t2ialign.trainer import tasks
    from t2ialign.training.hooks import LoopHooks

    cfg = TrainerServiceConfig(**config["service"])
    spec, job_id = config["spec"], config["job_id"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(cfg.torch_threads)
    runner = ray.get_actor(config["runner"], namespace=cfg.namespace)
    store = storage.connect(cfg.store_url)
    work = Path(tempfile.mkdtemp(prefix=f"t2ialign-{job_id}-rank{rank}-"))
    device = tasks.worker_device(cfg.use_gpu)
    checkpoint = ray.train.get_checkpoint()
    try:
        with checkpoint.as_directory() if checkpoint else nullcontext(None) as resume:
            resumed_from = json.loads((Path(resume) / PROGRESS_FILE).read_text())["step"] if resume else 0
            steering = Steering(runner, rank, world, cfg.checkpoint_every_steps, work, resumed_from)
            hooks = LoopHooks(
                rank=rank,
                world_size=world,
                wrap=prepare_model if world > 1 else (lambda m: m),
                resume_from=Path(resume) / "state" if resume else None,
                on_step=steering,
            )
            train = tasks.train_reward if spec["kind"] == "reward" else tasks.finetune
            trained = train(spec, cfg, store, hooks, work, device)
        if steering.stopped or rank != 0:
            return
        version = tasks.publish(store, trained, job_id, work)
        summary = {k: float(v) for k, v in trained.metrics.items() if isinstance(v, int | float)}
        ray.get(runner.published.remote(version, trained.parent_version, summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)
