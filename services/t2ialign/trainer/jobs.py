"""Training jobs as records in the object store, so that any trainer replica (a restarted one too) reports them.

    jobs/<job-id>/<seq>.json          snapshots of the job, append-only (the store is write-once): the
                                      highest seq is the job as it is now
    jobs-by-request/<request-id>.json the job a request id started (idempotent Start* calls)

A running job's live progress is held by its runner actor and written here every few seconds; every state
change is written at once. No Ray here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from t2ialign.store import KeyExistsError, ObjectStore, get_json, model_prefix, put_json, validate_id
from t2ialign.v1 import common_pb2, trainer_pb2

KINDS = ("reward", "finetune")
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")
OUTPUT_KIND = {"reward": "reward", "finetune": "unet"}  # models/<kind>/ of a job's result


@dataclass
class JobRecord:
    job_id: str
    kind: str  # reward | finetune
    spec: dict[str, Any]  # the validated request (specs.py), everything a worker needs
    state: str = "queued"
    step: int = 0
    total_steps: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    input_version: str = ""  # the checkpoint it starts from ("" for a fresh reward head)
    output_version: str = ""  # set when succeeded
    request_id: str = ""
    num_workers: int = 1
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    seq: int = 0  # snapshot number in the store

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobRecord:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def new_job_id(kind: str) -> str:
    """Time-ordered and unique: 'finetune-20260102T030405-1a2b3c4d'."""
    return f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _prefix(job_id: str) -> str:
    return f"jobs/{validate_id(job_id, 'job id')}/"


def save(store: ObjectStore, job: JobRecord) -> JobRecord:
    """Append a snapshot; a concurrent writer that took the seq first makes this one take the next."""
    for _ in range(100):
        job.seq += 1
        try:
            put_json(store, f"{_prefix(job.job_id)}{job.seq:08d}.json", job.to_dict())
            return job
        except KeyExistsError:
            continue
    raise RuntimeError(f"job {job.job_id}: gave up after 100 concurrent updates")


def load(store: ObjectStore, job_id: str) -> JobRecord | None:
    keys = [k for k in store.list(_prefix(job_id)) if k.endswith(".json")]
    if not keys:
        return None
    job = JobRecord.from_dict(get_json(store, keys[-1]))
    job.seq = max(job.seq, int(keys[-1].rsplit("/", 1)[1][:-5]))
    return job


def list_ids(store: ObjectStore) -> list[str]:
    return sorted({k.split("/")[1] for k in store.list("jobs/") if k.count("/") == 2})


def claim_request(store: ObjectStore, request_id: str, job_id: str) -> str:
    """Bind request_id to job_id once; returns the job id it is bound to (an earlier one if it was taken)."""
    key = f"jobs-by-request/{validate_id(request_id, 'request_id')}.json"
    try:
        put_json(store, key, {"job_id": job_id})
        return job_id
    except KeyExistsError:
        return str(get_json(store, key)["job_id"])


# Proto -------------------------------------------------------------------------------------------
KIND_PROTO = {"reward": trainer_pb2.JOB_KIND_REWARD, "finetune": trainer_pb2.JOB_KIND_FINETUNE}
STATE_PROTO = {
    "queued": trainer_pb2.JOB_STATE_QUEUED,
    "running": trainer_pb2.JOB_STATE_RUNNING,
    "succeeded": trainer_pb2.JOB_STATE_SUCCEEDED,
    "failed": trainer_pb2.JOB_STATE_FAILED,
    "cancelled": trainer_pb2.JOB_STATE_CANCELLED,
}


def _timestamp(t: float | None) -> Timestamp | None:
    if t is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


MODEL_KIND_PROTO = {"unet": common_pb2.MODEL_KIND_UNET, "reward": common_pb2.MODEL_KIND_REWARD}


def _version(kind: str, version: str, parent: str | None = None) -> common_pb2.ModelVersion | None:
    """An output (parent given) carries its prefix; an input may be a base model outside the store."""
    if not version:
        return None
    prefix = model_prefix(kind, version) if parent is not None else ""
    return common_pb2.ModelVersion(kind=MODEL_KIND_PROTO[kind], version=version, prefix=prefix, parent_version=parent)


def to_proto(job: JobRecord) -> trainer_pb2.Job:
    input_kind = "reward" if job.kind == "reward" else "unet"
    return trainer_pb2.Job(
        job_id=job.job_id,
        kind=KIND_PROTO[job.kind],
        state=STATE_PROTO[job.state],
        step=job.step,
        total_steps=job.total_steps,
        output=_version(OUTPUT_KIND[job.kind], job.output_version, job.input_version),
        input=_version(input_kind, job.input_version),  # no prefix: a base UNet may live outside the store
        metrics={k: float(v) for k, v in job.metrics.items()},
        error=job.error[:4096],
        created_at=_timestamp(job.created_at),
        started_at=_timestamp(job.started_at),
        finished_at=_timestamp(job.finished_at),
        request_id=job.request_id,
    )


def to_json(job: JobRecord) -> dict[str, Any]:
    """The REST shape (gateway): the proto's fields, names as in the proto, times as ISO 8601."""

    def iso(t: float | None) -> str | None:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds") if t is not None else None

    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "state": job.state,
        "step": job.step,
        "total_steps": job.total_steps,
        "output": {"kind": OUTPUT_KIND[job.kind], "version": job.output_version} if job.output_version else None,
        "input_version": job.input_version,
        "metrics": job.metrics,
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "request_id": job.request_id,
        "num_workers": job.num_workers,
    }
