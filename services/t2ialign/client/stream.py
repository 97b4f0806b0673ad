"""A bounded, steady stream of Generate calls over gRPC (several client threads), recording per call its
start time, latency, answering UNet version or error: the hot-swap test, benchmarks/bench_hot_swap.py and the demo
watch a promotion with it."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

import grpc

from t2ialign.v1 import generator_pb2, generator_pb2_grpc


@dataclass
class Call:
    start: float
    seconds: float
    version: str = ""
    error: str = ""


@dataclass
class GenerateStream:
    channel: grpc.Channel
    api_key: str
    threads: int = 2
    interval_s: float = 0.05  # pause between one thread's calls (keeps the stream bounded)
    request: dict = field(default_factory=lambda: {"prompt": "a red circle", "num_images": 1, "seed": 1})
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop, self._nudge = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]

    def _run(self) -> None:
        stub = generator_pb2_grpc.GeneratorServiceStub(self.channel)
        md = [("authorization", f"Bearer {self.api_key}"), ("application", "generator")]
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                r = stub.Generate(generator_pb2.GenerateRequest(**self.request), metadata=md, timeout=120)
                call = Call(t0, time.perf_counter() - t0, version=r.unet_version)
            except grpc.RpcError as e:
                call = Call(t0, time.perf_counter() - t0, error=f"{e.code().name}: {e.details()}")
            with self._lock:
                self.calls.append(call)
            self._nudge.wait(self.interval_s)
            self._nudge.clear()

    def set_interval(self, interval_s: float) -> None:
        """Change the pause between calls from the next one on; a thread waiting out the old pause wakes now (with
        several threads, the others finish theirs first)."""
        self.interval_s = interval_s
        self._nudge.set()

    def __enter__(self) -> GenerateStream:
        for w in self._workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._nudge.set()
        for w in self._workers:
            w.join(180)

    def wait_calls(self, n: int, timeout_s: float = 120) -> None:
        """Until at least n more calls finished."""
        target, t0 = len(self.calls) + n, time.time()
        while len(self.calls) < target and time.time() - t0 < timeout_s:
            time.sleep(0.05)

    def between(self, t0: float, t1: float) -> list[Call]:
        """Calls that started in [t0, t1) (perf_counter times)."""
        return [c for c in list(self.calls) if t0 <= c.start < t1]


def percentiles(calls: list[Call]) -> dict[str, float]:
    lat = sorted(c.seconds for c in calls)
    if not lat:
        return {"n": 0, "p50_s": float("nan"), "p99_s": float("nan")}
    return {"n": len(lat), "p50_s": statistics.median(lat), "p99_s": lat[min(len(lat) - 1, int(0.99 * len(lat)))]}
