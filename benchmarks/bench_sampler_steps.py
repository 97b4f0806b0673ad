"""Oracle alignment against sampler steps (issue 18, item 3), paired on the same prompts and seeds.

Each arm is (dtype, sampler, steps). Every arm generates one image per fixed evaluation prompt (the prompts of
`t2ialign eval`, seen and unseen objects, all four categories) with the same seeds, the oracle judges each
image, and each arm is compared with the reference arm (bf16 Euler ancestral at 20 steps, the new dtype) and
with today's path (fp32, default layout, Euler ancestral at 20 steps) by the paired difference over images:
its mean, its standard error std(d)/sqrt(n), and a paired bootstrap 95% interval.

Arms run in priority order (or --arms) and each one is saved to --out as it finishes, so a run cut short keeps
what it measured and a rerun skips finished arms. Parallel runs with other --arms and --out files are combined
by --merge. Usage (about 30 minutes on 2 shared cores at 32 prompts/category):
    nice -n 5 .venv/bin/python benchmarks/bench_sampler_steps.py --out results/sampler_steps.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from t2ialign.evaluation.alignment import flat_eval_prompts, generate_for_prompts, oracle_matches
from t2ialign.models.loading import load_generator
from t2ialign.models.precision import Precision

TODAY = ("fp32", "euler-a", 20)  # the path before issue 18: fp32, contiguous layout, 20 Euler ancestral steps
REFERENCE = ("auto", "euler-a", 20)
PRIORITY: list[tuple[str, str, int]] = [
    TODAY,
    REFERENCE,
    *[("auto", "euler-a", n) for n in (10, 12, 8)],
    *[("auto", s, 10) for s in ("dpm++", "dpm++-sde")],
    ("auto", "euler-a", 16),
    *[("auto", s, n) for n in (12, 8, 16, 20) for s in ("dpm++", "dpm++-sde")],
]


def arm_name(arm: tuple[str, str, int]) -> str:
    return f"{arm[0]}/{arm[1]}/{arm[2]}"


def paired(a: np.ndarray, b: np.ndarray, draws: int = 2000, seed: int = 0) -> dict[str, float]:
    """a - b over paired 0/1 verdicts: mean, standard error and a bootstrap 95% interval (resampling images)."""
    d = a.astype(float) - b.astype(float)
    idx = np.random.default_rng(seed).integers(0, len(d), (draws, len(d)))
    lo, hi = np.percentile(d[idx].mean(1), [2.5, 97.5])
    se = float(d.std(ddof=1) / np.sqrt(len(d)))
    return {"delta": float(d.mean()), "se": se, "ci95": [float(lo), float(hi)], "discordant": int((d != 0).sum())}


def run_arm(arm, prompts, pipes, seed: int, chunk: int) -> tuple[np.ndarray, float]:
    """(P,) oracle verdicts of one image per prompt, and the generation seconds."""
    dtype, sampler, steps = arm
    t0 = time.perf_counter()
    images = generate_for_prompts(pipes[dtype], prompts, 1, seed, steps, 4.0, chunk_images=chunk, sampler=sampler)
    seconds = time.perf_counter() - t0
    return oracle_matches(images, prompts)[:, 0], seconds


def summarize(results: dict, splits: list[str]) -> dict[str, dict]:
    """Per arm: alignment (seen, unseen, all) and the paired difference to the reference and to today's path."""
    spl = np.array(splits)
    out = {}
    for name, r in results.items():
        m = np.array(r["matches"], dtype=bool)
        row = {s: float(m[spl == s].mean()) for s in ("seen", "unseen")} | {"all": float(m.mean())}
        row["seconds"] = r["seconds"]
        for ref_name, key in ((arm_name(REFERENCE), "vs_reference"), (arm_name(TODAY), "vs_today")):
            if ref_name in results and ref_name != name:
                row[key] = paired(m, np.array(results[ref_name]["matches"], dtype=bool))
        out[name] = row
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts-per-category", type=int, default=32, help="per split and category (x8 images)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--chunk", type=int, default=64, help="images per pipeline call")
    ap.add_argument("--max-arms", type=int, default=len(PRIORITY), help="stop after this many arms")
    ap.add_argument("--arms", help="comma-separated arms to run, e.g. auto/euler-a/10 (default: PRIORITY)")
    ap.add_argument("--merge", type=Path, nargs="*", default=[], help="only summarize these result files together")
    ap.add_argument("--out", type=Path, default=Path("results/sampler_steps.json"))
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (1 on a crowded machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    prompts, splits = flat_eval_prompts(args.prompts_per_category, args.seed)
    if args.merge:  # arms measured by parallel runs (same prompts and seeds) -> one summary
        results = {k: v for f in args.merge for k, v in json.loads(f.read_text())["results"].items()}
        print(json.dumps(summarize(results, splits)))
        return
    arms = PRIORITY[: args.max_arms]
    if args.arms:
        arms = [(a, s, int(n)) for a, s, n in (x.split("/") for x in args.arms.split(","))]
    state = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if state.get("prompts_per_category") != args.prompts_per_category or state.get("seed") != args.seed:
        state = {"prompts_per_category": args.prompts_per_category, "seed": args.seed, "results": {}}
    pipes = {"fp32": load_generator("base", dtype="float32"), "auto": load_generator("base", dtype="auto")}
    pipes["fp32"].precision = Precision.float32()  # today's path: default layout too
    pipes["fp32"].unet = pipes["fp32"].precision.layout_module(pipes["fp32"].unet)
    state["dtype_auto"] = pipes["auto"].precision.record()
    for i, arm in enumerate(arms):
        name = arm_name(arm)
        if name in state["results"]:
            continue
        matches, seconds = run_arm(arm, prompts, pipes, args.seed, args.chunk)
        state["results"][name] = {"matches": matches.astype(int).tolist(), "seconds": round(seconds, 1)}
        state["summary"] = summarize(state["results"], splits)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(state, indent=1))
        row = state["summary"][name]
        ref = row.get("vs_reference", {})
        print(
            f"[{i + 1}/{len(arms)}] {name}: {len(matches)} images in {seconds:.0f}s, alignment {row['all']:.3f} "
            f"(seen {row['seen']:.3f}, unseen {row['unseen']:.3f}), vs reference {ref.get('delta', 0):+.3f} "
            f"+- {ref.get('se', 0):.3f}",
            file=sys.stderr,
            flush=True,
        )
    print(json.dumps(state["summary"]))


if __name__ == "__main__":
    main()
