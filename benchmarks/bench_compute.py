"""Compute benchmark (issue 18): the new default path against today's, side by side in one run, as ratios.

Today's path: fp32, PyTorch's default memory layout, fused (SDPA) attention, 20 Euler ancestral steps.
The new default: the package's precision setting (models/precision.py: "auto" is bf16 on a CPU with BF16
instructions), channels-last, and DEFAULT_STEPS sampler steps (models/toy_pipeline.py).

1. Matmul rates: a 2048^2 matmul in fp32 and bf16, the machine's limit to compare against (GFLOP/s).
2. Generation images/s with classifier-free guidance, today (fp32, 20 steps) vs new at DEFAULT_STEPS and
   at 20 steps; effective GFLOP/s of the UNet forwards (torch.utils.flop_counter).
3. Fine-tuning steps/s: `finetune_unet` (Eq. 3) at batch 32, today's fp32 loop vs the pipeline's precision.
4. Reward scoring images/s: RewardModel.score (frozen CLIP forward + head) on 256 images.
5. alignment_delta: oracle alignment of the new default minus today's, paired on the same prompts and seeds:
   from a bench_sampler_steps.py result file (--alignment-from), else measured here on a small set.

Each measurement interleaves the paths, repeats, and reports medians, so load from other jobs hits both
alike. `--json` prints the figures as the last line. Models: the shipped toy weights.
Usage: .venv/bin/python benchmarks/bench_compute.py [--quick] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from t2ialign.models.loading import load_generator
from t2ialign.models.precision import Precision
from t2ialign.models.reward import RewardModel
from t2ialign.models.toy_pipeline import DEFAULT_STEPS, ToyPipeline
from t2ialign.training.feedback import FeedbackSet
from t2ialign.training.finetune import FinetuneConfig, finetune_unet

PROMPTS = ["two red circles left of a blue square", "a green triangle on a sand background"]
TODAY_STEPS = 20


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turns (one warm-up call each first)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
        log(f"  round {r + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
    return {k: statistics.median(v) for k, v in times.items()}


def matmul_rates(repeats: int) -> dict[str, float]:
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    ab, bb = a.bfloat16(), b.bfloat16()
    secs = interleaved({"fp32": lambda: a @ b, "bf16": lambda: ab @ bb}, repeats)
    return {k: 2 * 2048**3 / s / 1e9 for k, s in secs.items()}


def unet_gflop(pipe: ToyPipeline, batch: int) -> float:
    """GFLOP of one UNet forward at `batch` (counted once in fp32; the count does not depend on the dtype)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, 3, pipe.resolution, pipe.resolution)
    states = pipe.encode_prompts(["a red circle"] * batch)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        pipe.unet(x, torch.tensor(500), encoder_hidden_states=states)
    return counter.get_total_flops() / 1e9


def today_pipeline() -> ToyPipeline:
    pipe = load_generator("base", dtype="float32")
    pipe.precision = Precision.float32()  # fp32 in the default layout: the path before issue 18
    pipe.unet = pipe.precision.layout_module(pipe.unet)
    return pipe


def bench_generation(
    today: ToyPipeline, new: ToyPipeline, images: int, repeats: int, new_steps: list[int]
) -> dict[str, float]:
    per_prompt = max(1, images // len(PROMPTS))
    n = per_prompt * len(PROMPTS)

    def gen(pipe: ToyPipeline, steps: int) -> Callable[[], object]:
        return lambda: pipe(PROMPTS, num_images=per_prompt, seed=0, num_inference_steps=steps)

    log(f"generation: {n} images with CFG (batch {2 * n}), today {TODAY_STEPS} steps vs new at {new_steps} and 20")
    steps = {"today": TODAY_STEPS} | {f"new_{k}_steps": k for k in new_steps} | {"new_20_steps": TODAY_STEPS}
    fns = {k: gen(today if k == "today" else new, n_steps) for k, n_steps in steps.items()}
    secs = interleaved(fns, repeats)
    gflop = unet_gflop(today, 2 * n)
    return {f"generation_{k}_images_per_s": n / s for k, s in secs.items()} | {
        f"generation_{k}_unet_gflop_per_s": gflop * steps[k] / s for k, s in secs.items()
    }


def bench_finetune(today: ToyPipeline, new: ToyPipeline, steps: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, today.resolution, today.resolution, 3), dtype=np.uint8)
    data = FeedbackSet(images, PROMPTS * 16, [1, 0] * 16, [f"i{i}" for i in range(32)], "bench")
    cfg = FinetuneConfig(steps=steps, batch_size=32, label_source="human", warmup=1)
    log(f"fine-tuning: {steps} steps at batch 32 per call")

    def run(pipe: ToyPipeline) -> Callable[[], object]:
        return lambda: finetune_unet(pipe, None, data, cfg, progress=False)

    secs = interleaved({"today": run(today), "new": run(new)}, repeats)
    return {f"finetune_{k}_steps_per_s": steps / s for k, s in secs.items()}


def bench_reward(new_precision: Precision, images: int, repeats: int) -> dict[str, float]:
    from t2ialign.models.clip import ClipBackbone
    from t2ialign.paths import DEFAULT_CLIP

    backbone = ClipBackbone.load(DEFAULT_CLIP)
    torch.manual_seed(0)
    today = RewardModel(backbone, precision=Precision.float32()).eval()  # an untrained head: the same compute
    new = RewardModel(backbone, precision=new_precision).eval()
    new.head.load_state_dict(today.head.state_dict())
    x = np.random.default_rng(0).integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    prompts = [f"{n} red circles" for n in range(1, 1 + images // 8) for _ in range(8)]  # 8 per prompt, as a pool

    @torch.no_grad()
    def score_today() -> torch.Tensor:  # the path before issue 18: fp32, every image's prompt encoded
        return today.head(backbone.encode_images(x), backbone.encode_text(prompts))

    log(f"reward scoring: {images} images, 8 per prompt")
    secs = interleaved({"today": score_today, "new": lambda: new.score(x, prompts)}, repeats)
    agree = float(torch.corrcoef(torch.stack([score_today(), new.score(x, prompts)]))[0, 1])
    return {f"reward_{k}_images_per_s": images / s for k, s in secs.items()} | {"reward_score_correlation": agree}


def alignment_delta(args: argparse.Namespace, new_dtype: str, new_steps: int) -> dict[str, float]:
    """New default minus today's oracle alignment, paired; from a study file or measured here."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_sampler_steps as study

    new_arm = ("auto" if new_dtype != "float32" else "fp32", "euler-a", new_steps)
    if args.alignment_from:
        results = {k: v for f in args.alignment_from for k, v in json.loads(f.read_text())["results"].items()}
        source = ", ".join(str(f) for f in args.alignment_from)
    else:
        state_file = Path("runs/bench_compute_alignment.json")
        arms = f"{study.arm_name(study.TODAY)},{study.arm_name(new_arm)}"
        study.main(["--prompts-per-category", str(args.alignment_prompts), "--arms", arms, "--out", str(state_file)])
        results, source = json.loads(state_file.read_text())["results"], "measured in this run"
    a = np.array(results[study.arm_name(new_arm)]["matches"], dtype=bool)
    b = np.array(results[study.arm_name(study.TODAY)]["matches"], dtype=bool)
    d = study.paired(a, b)
    return {"alignment_new": float(a.mean()), "alignment_today": float(b.mean()), "alignment_images": len(a)} | {
        "alignment_delta": d["delta"],
        "alignment_delta_se": d["se"],
        "alignment_delta_ci95": d["ci95"],
        "alignment_source": source,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer images, steps and repeats (noisier)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved rounds per measurement (default 3)")
    ap.add_argument("--alignment-from", type=Path, nargs="*", default=[], help="bench_sampler_steps.py results")
    ap.add_argument("--alignment-prompts", type=int, default=2, help="prompts per category if measured here")
    ap.add_argument("--new-steps", default=str(DEFAULT_STEPS), help="comma-separated step counts of the new path")
    ap.add_argument("--parts", default="generation,finetune,reward,alignment", help="comma-separated subset")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 3)
    today, new = today_pipeline(), load_generator("base")
    out: dict[str, object] = {
        "threads": args.threads,
        "new_precision": new.precision.record(),
        "default_steps": DEFAULT_STEPS,
        "torch": torch.__version__,
    }
    log(f"new path: {new.precision.record()}, {DEFAULT_STEPS} steps; today: float32, default layout, 20 steps")
    parts = args.parts.split(",")
    new_steps = [int(n) for n in args.new_steps.split(",")]
    if "generation" in parts:
        out |= {f"matmul_{k}_gflop_per_s": v for k, v in matmul_rates(repeats).items()}
        out |= bench_generation(today, new, 8 if args.quick else 32, repeats, new_steps)
        for n in new_steps + [TODAY_STEPS]:
            speedup = out[f"generation_new_{n}_steps_images_per_s"] / out["generation_today_images_per_s"]
            out[f"generation_speedup_at_{n}_steps"] = speedup
        out["generation_speedup"] = out[f"generation_speedup_at_{new_steps[0]}_steps"]
    if "finetune" in parts:
        out |= bench_finetune(today, new, 1 if args.quick else 2, repeats)
        out["finetune_speedup"] = out["finetune_new_steps_per_s"] / out["finetune_today_steps_per_s"]
    if "reward" in parts:
        out |= bench_reward(new.precision, 64 if args.quick else 256, repeats)
        out["reward_speedup"] = out["reward_new_images_per_s"] / out["reward_today_images_per_s"]
    if "alignment" in parts:
        out |= alignment_delta(args, new.precision.name, new_steps[0])
        log(f"alignment_delta: {out['alignment_delta']:+.3f} (se {out['alignment_delta_se']:.3f})")
    for k, v in out.items():
        if k.endswith("speedup") or "_speedup_at_" in k:
            log(f"{k}: {v:.2f}x")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
