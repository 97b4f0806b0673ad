"""Trainer benchmark (issue 19): fine-tuning throughput through the trainer service against in-process, in one run.

- in-process: training.finetune.finetune_unet in this process, steps/s between its first and last step (set-up
  excluded), timed by a LoopHooks callback;
- trainer: the same job spec through the trainer's Serve deployment (start_job, the path gRPC StartFinetune
  takes), run by its detached runner on Ray Train (TorchTrainer, one CPU worker, checkpoints every
  --checkpoint-every steps, progress and stop-flag polling on); steps/s as the worker measures it (the job's
  `steps_per_second` metric, set-up excluded the same way).
The runs alternate (in-process, trainer, in-process, trainer, ...) so that load from other processes hits
both; the ratio of medians is printed. Goal: trainer >= 0.9x in-process. Both use --threads intra-op
threads (default 1).

Models: the shipped toy weights (weights/toy), the reward model an untrained head on the toy CLIP (the
weights do not change the cost). Usage: nice -n 10 .venv/bin/python benchmarks/bench_trainer.py [--steps 60]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR
from t2ialign.training.hooks import LoopHooks, StepInfo

ROUND = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_store(root: Path, n_images: int):
    """A local store with one round of rendered, half-labeled images and an untrained reward head."""
    from t2ialign.models.clip import ClipBackbone
    from t2ialign.models.reward import RewardModel
    from t2ialign.store import LocalStore, model_prefix, set_pointer, upload_folder
    from t2ialign.toyworld.grammar import CATEGORIES, sample_prompt
    from t2ialign.toyworld.render import render
    from t2ialign.training.feedback import FeedbackSet, save_feedback

    store = LocalStore(root / "store")
    rng = random.Random(0)
    specs = [sample_prompt(rng, CATEGORIES[i % len(CATEGORIES)]) for i in range(n_images)]
    images = np.stack([render(s, seed=i) for i, s in enumerate(specs)])
    labels = [i % 2 if i % 3 else None for i in range(n_images)]
    save_feedback(
        FeedbackSet(images, [s.text for s in specs], labels, [f"b{i:04d}" for i in range(n_images)], ROUND), store
    )
    torch.manual_seed(0)
    reward = RewardModel(ClipBackbone.load(DEFAULT_CLIP), version="rw-bench")
    reward.save(root / "reward")
    upload_folder(store, root / "reward", model_prefix("reward", "rw-bench"))
    set_pointer(store, "reward-serving", "rw-bench", reason="benchmark")
    return store


def in_process_rate(store, steps: int, batch_size: int) -> float:
    from t2ialign.models.clip import ClipBackbone
    from t2ialign.models.reward import RewardModel
    from t2ialign.models.toy_pipeline import ToyPipeline
    from t2ialign.store import download_folder, model_prefix
    from t2ialign.training.feedback import load_feedback
    from t2ialign.training.finetune import FinetuneConfig, finetune_unet

    clip = ClipBackbone.load(DEFAULT_CLIP)
    pipe = ToyPipeline.load(DEFAULT_GENERATOR, clip=clip)
    folder = Path(tempfile.mkdtemp()) / "reward"
    download_folder(store, model_prefix("reward", "rw-bench"), folder)
    reward = RewardModel.load(folder, clip)
    times: list[float] = []

    def on_step(info: StepInfo) -> bool:
        times.append(time.monotonic())
        return False

    cfg = FinetuneConfig(steps=steps, batch_size=batch_size, seed=0)
    finetune_unet(pipe, reward, load_feedback(store, ROUND), cfg, progress=False, hooks=LoopHooks(on_step=on_step))
    return (len(times) - 1) / (times[-1] - times[0])


def trainer_rate(handle, steps: int, batch_size: int) -> float:
    request = {"round_ids": [ROUND], "num_train_steps": steps, "batch_size": batch_size, "seed": 0}
    job = handle.start_job.remote("finetune", request).result()
    while job["state"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.5)
        job = handle.get_job.remote(job["job_id"]).result()
    if job["state"] != "succeeded":
        raise RuntimeError(f"trainer job {job['job_id']} ended {job['state']}: {job['error']}")
    return float(job["metrics"]["steps_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each kind, alternating")
    ap.add_argument("--checkpoint-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads, in-process and per trainer worker")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import ray
    from ray import serve

    from t2ialign.serving.app import TrainerAppArgs, build_trainer_app

    root = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    store = make_store(root, 48)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        config = {
            "store_url": str(root / "store"),
            "runs_path": str(root / "runs"),
            "checkpoint_every_steps": args.checkpoint_every,
            "torch_threads": args.threads,
        }
        serve.start(http_options={"host": "127.0.0.1", "port": free_port()})
        app = build_trainer_app(TrainerAppArgs.model_validate({"config": config}))
        handle = serve.run(app, name="trainer", route_prefix="/trainer")
        rates: dict[str, list[float]] = {"in-process": [], "trainer": []}
        for r in range(args.repeats):
            rates["in-process"].append(in_process_rate(store, args.steps, args.batch_size))
            rates["trainer"].append(trainer_rate(handle, args.steps, args.batch_size))
            print(
                f"repeat {r + 1}: in-process {rates['in-process'][-1]:.2f} steps/s, "
                f"trainer {rates['trainer'][-1]:.2f} steps/s",
                flush=True,
            )
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(
            f"\nfine-tuning, toy UNet, batch {args.batch_size}, {args.steps} steps, 1 CPU worker, "
            f"checkpoint every {args.checkpoint_every} steps ({args.repeats} runs each, median):"
        )
        for k, v in med.items():
            print(f"  {k:10s} {v:6.2f} steps/s   (runs: {', '.join(f'{x:.2f}' for x in rates[k])})")
        print(f"  ratio trainer / in-process: {med['trainer'] / med['in-process']:.2f}x  (goal >= 0.9x)")
    finally:
        serve.shutdown()
        ray.shutdown()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
