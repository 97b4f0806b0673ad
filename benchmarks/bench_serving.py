"""Serving benchmark (issue 4): ratios measured in one run, on this machine.

1. Reward scoring throughput (images/s) of one prompt and many PNG images:
   - naive: a loop over single images in-process (decode + forward per image: what ImageReward's `score`
     does per image);
   - in-process batched: decode every PNG, then RewardModel.score in batches (the library's batched forward);
   - service: concurrent gRPC Score calls through the real Serve gRPC proxy into one reward replica
     (@serve.batch merges requests).
   Goals: service >= 10x naive and >= 0.8x in-process batched.
2. Generation latency through the service (gRPC Generate, num_images=1), alone and with best_of_n=4.

Models: the shipped toy weights (weights/toy/{clip,generator}) when present, else random weights of the same
toy architectures (same compute). Usage: nice -n 10 .venv/bin/python benchmarks/bench_serving.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR

PROMPT = "two red circles left of a blue square"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toy_models(root: Path) -> tuple[Path, Path, str]:
    """The shipped toy weights, or random weights of the toy architectures written under root."""
    if (DEFAULT_CLIP / "manifest.json").is_file() and (DEFAULT_GENERATOR / "manifest.json").is_file():
        return DEFAULT_CLIP, DEFAULT_GENERATOR, "shipped toy weights"
    from diffusers import UNet2DConditionModel

    from t2ialign.models.clip import TOY_CLIP, ClipBackbone
    from t2ialign.models.toy_pipeline import ToyPipeline, toy_unet_config, training_scheduler

    torch.manual_seed(0)
    clip = ClipBackbone(TOY_CLIP).eval()
    clip.save(root / "clip")
    unet = UNet2DConditionModel(**toy_unet_config(clip.text_width, clip.image_size))
    ToyPipeline(unet, clip, dict(training_scheduler().config)).save(root / "generator", version="toy-random")
    return root / "clip", root / "generator", "random weights, toy architectures"


def png_images(n: int, size: int = 32) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def rate(n: int, fn) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def in_process(clip_dir: Path, pngs: list[bytes], n_naive: int, batch: int) -> dict[str, float]:
    from t2ialign.models.clip import ClipBackbone
    from t2ialign.models.reward import RewardModel
    from t2ialign.reward.logic import RewardScorer
    from t2ialign.serving.images import decode_image

    torch.manual_seed(0)
    model = RewardModel(ClipBackbone.load(clip_dir)).eval()
    size = model.backbone.image_size

    def naive() -> None:
        for data in pngs[:n_naive]:
            model.score(decode_image(data, size)[None], [PROMPT])

    arrays = np.stack([decode_image(d, size) for d in pngs])

    def batched_forward() -> None:
        model.score(arrays, [PROMPT] * len(arrays), batch_size=batch)

    def batched_with_decode() -> None:
        x = np.stack([decode_image(d, size) for d in pngs])
        model.score(x, [PROMPT] * len(x), batch_size=batch)

    scorer = RewardScorer(model)

    def batched_dedup() -> None:  # the service's scoring function, in-process: each prompt encoded once
        for i in range(0, len(arrays), batch):
            scorer.score(arrays[i : i + batch], [PROMPT] * len(arrays[i : i + batch]))

    naive()  # warm-up
    batched_forward()
    return {
        "naive": rate(n_naive, naive),
        "batched_forward": rate(len(pngs), batched_forward),
        "batched_with_decode": rate(len(pngs), batched_with_decode),
        "batched_dedup": rate(len(pngs), batched_dedup),
    }


def in_process_generate(clip_dir: Path, generator_dir: Path, repeats: int) -> dict[int, float]:
    """Pipeline-only latency (no scoring, no storing) for 1 and 4 images, median of `repeats`."""
    from t2ialign.models.toy_pipeline import ToyPipeline

    pipe = ToyPipeline.load(generator_dir, clip=clip_dir)
    out = {}
    for n in (1, 4):
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            pipe(PROMPT, num_images=n, seed=i, num_inference_steps=20, guidance_scale=4.0)
            times.append(time.perf_counter() - t0)
        out[n] = statistics.median(times[1:])
    return out


def service_score(channel, pngs: list[bytes], per_request: int, concurrency: int, key: str) -> float:
    from t2ialign.v1 import common_pb2, reward_pb2, reward_pb2_grpc

    stub = reward_pb2_grpc.RewardServiceStub(channel)
    md = [("application", "reward"), ("authorization", f"Bearer {key}")]
    requests = [
        reward_pb2.ScoreRequest(
            prompts=[PROMPT], images=[common_pb2.ImageRef(data=d) for d in pngs[i : i + per_request]]
        )
        for i in range(0, len(pngs), per_request)
    ]

    def call(req) -> int:
        return len(stub.Score(req, metadata=md, timeout=300).scores)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, requests[:concurrency]))  # warm-up
        t0 = time.perf_counter()
        n = sum(pool.map(call, requests))
        return n / (time.perf_counter() - t0)


def service_generate(channel, key: str, best_of_n: int, repeats: int) -> float:
    from t2ialign.v1 import generator_pb2, generator_pb2_grpc

    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    md = [("application", "generator"), ("authorization", f"Bearer {key}")]
    times = []
    for i in range(repeats + 1):
        req = generator_pb2.GenerateRequest(prompt=PROMPT, num_images=1, seed=i, best_of_n=best_of_n)
        t0 = time.perf_counter()
        stub.Generate(req, metadata=md, timeout=300)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])  # the first call warms up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer images and repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, in-process and per replica alike")
    ap.add_argument(
        "--reward-replicas",
        type=int,
        default=1,
        help="reward replicas (the service scales out; the in-process baselines stay one process)",
    )
    args = ap.parse_args()
    n_images, n_naive, repeats = (256, 64, 3) if args.quick else (2048, 256, 7)
    per_request, concurrency, batch = 32, 8, 64
    torch.set_num_threads(args.threads)

    import grpc
    import ray
    from ray import serve

    from t2ialign.serving.app import ServeArgs, set_grpc_message_limit, start_all
    from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES

    root = Path(tempfile.mkdtemp(prefix="t2ialign-bench-"))
    clip_dir, generator_dir, weights = toy_models(root / "models")
    pngs = png_images(n_images)

    # 1. In-process baselines.
    local = in_process(clip_dir, pngs, n_naive, batch)
    pipe_latency = in_process_generate(clip_dir, generator_dir, repeats)

    # 2. The services under a real local Ray Serve.
    key = "bench-key-0123"
    os.environ["T2IALIGN_API_KEYS"] = f"{key}:user"
    set_grpc_message_limit()
    grpc_port = free_port()
    common = {"store_url": str(root / "store")}
    scaling = {"num_replicas": 1, "num_cpus": 0.5}
    reward_scaling = {"num_replicas": args.reward_replicas, "num_cpus": 0.5}
    cfg = ServeArgs.model_validate(
        {
            "reward": {
                "config": {**common, "clip": str(clip_dir), "max_batch_size": batch, "torch_threads": args.threads},
                "scaling": reward_scaling,
            },
            "generator": {
                "config": {**common, "model": str(generator_dir), "torch_threads": args.threads},
                "scaling": scaling,
            },
            "http_port": free_port(),
            "grpc_port": grpc_port,
        }
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        start_all(cfg)
        opts = [("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES)]
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=opts)
        svc = service_score(channel, pngs, per_request, concurrency, key)
        gen1 = service_generate(channel, key, best_of_n=0, repeats=repeats)
        gen4 = service_generate(channel, key, best_of_n=4, repeats=repeats)
    finally:
        serve.shutdown()
        ray.shutdown()

    # 3. Report.
    print(
        f"t2ialign serving benchmark ({weights}; {os.cpu_count()} CPUs; torch threads {args.threads}; "
        f"{args.reward_replicas} reward replica(s))"
    )
    print(f"reward scoring, images/s ({n_images} PNGs 32x32, one prompt):")
    print(f"  naive loop, one image at a time (in-process): {local['naive']:9.1f}")
    print(f"  in-process batched forward (batch {batch}):      {local['batched_forward']:9.1f}")
    print(f"  in-process batched incl. PNG decode:          {local['batched_with_decode']:9.1f}")
    print(f"  in-process, each prompt encoded once:         {local['batched_dedup']:9.1f}")
    print(f"  service, gRPC Score ({concurrency} callers x {per_request} images):  {svc:9.1f}")
    print(f"  ratio service / naive:                        {svc / local['naive']:9.2f}x  (goal >= 10x)")
    print(f"  ratio service / in-process batched forward:   {svc / local['batched_forward']:9.2f}x  (goal >= 0.8x)")
    print(f"  ratio service / in-process batched + decode:  {svc / local['batched_with_decode']:9.2f}x")
    print(f"  ratio service / in-process, prompt once:      {svc / local['batched_dedup']:9.2f}x")
    print(f"generation latency, gRPC Generate, num_images=1, 20 steps (median of {repeats}):")
    print(f"  alone:        {gen1 * 1000:8.1f} ms")
    print(f"  best_of_n=4:  {gen4 * 1000:8.1f} ms   extra cost {gen4 / gen1:5.2f}x (+{(gen4 - gen1) * 1000:.1f} ms)")
    p1, p4 = pipe_latency[1], pipe_latency[4]
    print(f"  in-process pipeline only: 1 image {p1 * 1000:.1f} ms, 4 images {p4 * 1000:.1f} ms ({p4 / p1:.2f}x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
