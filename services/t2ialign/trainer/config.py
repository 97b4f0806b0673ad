"""Trainer service settings (the args of `build_trainer_app`, one block of deploy/serve_local.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, REPO_ROOT
from t2ialign.serving.storage import DEFAULT_STORE

DEFAULT_RUNS = str(REPO_ROOT / "data" / "train-runs")  # Ray Train's run folders (checkpoints), gitignored


class TrainerServiceConfig(BaseModel, extra="forbid"):
    store_url: str = DEFAULT_STORE  # inputs (feedback, versions) and outputs (models/, jobs/)
    model: str = str(DEFAULT_GENERATOR)  # base pipeline (text encoder, scheduler, base UNet): folder or store:<prefix>
    clip: str = str(DEFAULT_CLIP)  # frozen CLIP of the reward model: folder or store:<prefix>
    runs_path: str = DEFAULT_RUNS  # Ray Train storage_path: a folder every node sees, or a pyarrow URI (s3://...)
    num_workers: int = Field(1, ge=1, le=64)  # data-parallel workers of a job that asks for none
    use_gpu: bool = False  # one GPU per worker (NCCL) instead of CPUs (gloo)
    cpus_per_worker: float = Field(1.0, gt=0)  # CPUs each worker reserves (ignored with use_gpu)
    torch_threads: int = Field(1, ge=1, le=64)  # intra-op threads per worker
    max_failures: int = Field(1, ge=0)  # worker-group restarts from the last checkpoint before a job fails
    checkpoint_every_steps: int = Field(20, ge=1)  # steps between checkpoints (reward: at epoch ends only)
    placement_timeout_s: float = Field(120, gt=0)  # a QUEUED job fails if its workers cannot start by then
    check_cluster_capacity: bool = True  # refuse a job the whole cluster can never hold (off under an autoscaler)
    cancel_grace_s: float = Field(10, gt=0)  # CancelJob: stop flag first, hard stop after this
    progress_persist_s: float = Field(5, gt=0)  # how often a running job's progress is written to the store
    namespace: str = "t2ialign-trainer"  # Ray namespace of the detached job actors
