"""Hot-swap under load (issue 20): two generator replicas behind the real Serve gRPC proxy, a bounded steady
stream of Generate calls, and the coordinator's Promote (then Rollback) in the middle of it.

Measured in one run, over `--cycles` promote + rollback pairs: failed calls (goal 0); the UNet version of every
answer (old or new while a swap runs, only the new one for calls started after it returns); p50 and p99 latency
of the calls in flight during any swap against the calls that overlapped none (goal: p99 at most 1.5x steady).
Models: the shipped toy weights (weights/toy); the new version is the shipped UNet with its weights perturbed
(same size, so the load costs what a real one does); the rollbacks go back to the base, which the coordinator
enters in the pointer history before the first promotion.

Usage: nice -n 10 .venv/bin/python benchmarks/bench_hot_swap.py [--steady-s 10] [--cycles 4] [--steps 10] [--quick]
Prints one JSON line with every figure; BENCHMARKS.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import grpc
import torch

from t2ialign.client.stream import GenerateStream, percentiles
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR

USER, ADMIN = "bench-user-0123", "bench-admin-0123"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish_perturbed_unet(store, version: str, work: Path, seed: int) -> None:
    from diffusers import UNet2DConditionModel

    from t2ialign.common.manifest import read_manifest, write_manifest
    from t2ialign.store import model_prefix, upload_folder

    unet = UNet2DConditionModel.from_pretrained(str(DEFAULT_GENERATOR / "unet"), use_safetensors=True)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 1e-3)
    folder = work / version
    unet.save_pretrained(str(folder), safe_serialization=True)
    base = read_manifest(DEFAULT_GENERATOR).get("version", "toy-base")
    write_manifest(folder, kind="unet", version=version, parent_version=base)
    upload_folder(store, folder, model_prefix("unet", version))


def overlapping(calls: list, windows: list[tuple[float, float]]) -> list:
    """Calls in flight at some moment of any window (started before its end, ended after its start)."""
    return [c for c in calls if any(c.start < t1 and c.start + c.seconds > t0 for t0, t1 in windows)]


def run_swaps(stream: GenerateStream, swaps: list, settle_calls: int) -> dict:
    """Each swap (a Promote or Rollback call) between `settle_calls` steady calls; latency of the calls in flight
    during any swap against the calls that overlapped none, pooled over all swaps."""
    windows, outcomes = [], []
    for name, action, expected in swaps:
        stream.wait_calls(settle_calls)
        t0 = time.perf_counter()
        reply = action()
        t1 = time.perf_counter()
        windows.append((t0, t1))
        stream.wait_calls(settle_calls)
        started_after = {c.version for c in stream.between(t1, float("inf")) if not c.error}
        outcomes.append(
            {
                "swap": name,
                "seconds": round(t1 - t0, 2),
                "replicas": [{"version": r.version, "error": r.error} for r in reply.replicas],
                "versions_in_flight": sorted({c.version for c in overlapping(stream.calls, [(t0, t1)])}),
                "versions_started_after": sorted(started_after),
                "only_new_after": started_after <= {expected},
            }
        )
        print(f"[bench] {json.dumps(outcomes[-1])}", file=sys.stderr, flush=True)
    calls = [c for c in stream.calls if not c.error]
    during = overlapping(calls, windows)
    steady = [c for c in calls if c not in during]
    s, d = percentiles(steady), percentiles(during)
    return {
        "steady": {k: round(v, 4) for k, v in s.items()},
        "during_swap": {k: round(v, 4) for k, v in d.items()},
        "p50_ratio": round(d["p50_s"] / s["p50_s"], 3),
        "p99_ratio": round(d["p99_s"] / s["p99_s"], 3),
        "swaps": outcomes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steady-s", type=float, default=10, help="steady calls between swaps, in seconds")
    ap.add_argument("--steps", type=int, default=10, help="sampler steps per Generate")
    ap.add_argument("--threads", type=int, default=2, help="client threads in the stream")
    ap.add_argument("--cycles", type=int, default=4, help="promote + rollback pairs")
    ap.add_argument("--quick", action="store_true", help="a few seconds of each phase (checks the script)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import ray
    from ray import serve

    from t2ialign.serving.app import ServeArgs, set_grpc_message_limit, start_all
    from t2ialign.store import LocalStore
    from t2ialign.v1 import common_pb2, coordinator_pb2, coordinator_pb2_grpc

    work = Path(tempfile.mkdtemp(prefix="bench-hot-swap-"))
    store = LocalStore(work / "store")
    publish_perturbed_unet(store, "unet-new", work, seed=1)
    os.environ["T2IALIGN_API_KEYS"] = f"{USER}:user,{ADMIN}:admin"
    set_grpc_message_limit()
    http_port, grpc_port = _port(), _port()
    half = {"num_replicas": 1, "num_cpus": 0.5}
    cfg = ServeArgs.model_validate(
        {
            "reward": {"config": {"store_url": str(store.root), "clip": str(DEFAULT_CLIP)}, "scaling": half},
            "generator": {
                "config": {"store_url": str(store.root), "default_num_inference_steps": args.steps},
                "scaling": {**half, "num_replicas": 2},
            },
            "coordinator": {"config": {"store_url": str(store.root)}},
            "http_port": http_port,
            "grpc_port": grpc_port,
        }
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        t_start = time.time()
        start_all(cfg)
        print(f"[bench] serving up in {time.time() - t_start:.0f} s", file=sys.stderr, flush=True)
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        stub = coordinator_pb2_grpc.CoordinatorServiceStub(channel)
        md = [("authorization", f"Bearer {ADMIN}"), ("application", "coordinator")]
        unet = common_pb2.MODEL_KIND_UNET
        with GenerateStream(channel, USER, threads=args.threads) as stream:
            stream.wait_calls(4)  # warm-up
            rate_t0, n0 = time.perf_counter(), len(stream.calls)
            stream.wait_calls(8)
            per_s = (len(stream.calls) - n0) / (time.perf_counter() - rate_t0)
            settle = 4 if args.quick else max(6, int(per_s * args.steady_s))
            print(f"[bench] {per_s:.1f} calls/s; {settle} steady calls between swaps", file=sys.stderr, flush=True)
            base = stub.Status(coordinator_pb2.StatusRequest(), metadata=md, timeout=60).serving_unet.version
            to_new = coordinator_pb2.PromoteRequest(kind=unet, version="unet-new", skip_gate=True)
            back = coordinator_pb2.RollbackRequest(kind=unet, reason="benchmark")
            swaps = []
            for _ in range(args.cycles):
                swaps.append(("promote", lambda: stub.Promote(to_new, metadata=md, timeout=600), "unet-new"))
                swaps.append(("rollback", lambda: stub.Rollback(back, metadata=md, timeout=600), base))
            measured = run_swaps(stream, swaps, settle)
        failed = [c.error for c in stream.calls if c.error]
        result = {
            "machine": f"{os.cpu_count()} CPUs (shared)",
            "calls": len(stream.calls),
            "failed": len(failed),
            "failures": sorted(set(failed))[:5],
            "steps": args.steps,
            "cycles": args.cycles,
            **measured,
        }
        print(json.dumps(result), flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
