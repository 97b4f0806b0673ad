"""Serve-time filtering through the running services (issue 17): best-of-n by the shipped r_phi against CLIP score.

Starts the three apps under a local Ray Serve exactly as `t2ialign serve` does, on a fresh store (no pointers:
the reward app serves the shipped r_phi, the generator the shipped base), then, in one run:

1. Alignment. For each held-out prompt (evaluation prompts, seed 2468: `--per-cell` per split and category, the
   unseen split naming the held-out object), one GeneratorClient call generates 16 candidates and returns them
   with the service's r_phi scores (best_of_n=16, num_images=16). Best-of-n for n = 1, 2, 4, 8, 16 keeps the best
   of each disjoint block of n candidates (16/n independent draws of best-of-n per prompt), by r_phi (the
   service's scores) and by CLIP score (computed here, the obvious alternative); the oracle judges what is kept.
2. Latency. For each n, `--latency-prompts` real requests best_of_n=n, num_images=1 (generate n, keep the best 1
   inside the service), timed end to end from the client; their kept images are judged too ("direct").
3. Ranking check: clean renders of a prompt against a render with one attribute swapped, scored through the
   RewardService (gRPC Score); the share ranked right, seen and unseen objects.
4. The larger held-out pool (evaluation.reward_test_pool.held_out_pool: 64 prompts x 8 images from the shipped
   base, 10 steps), scored through the RewardService: best-of-n for n = 1, 2, 4, 8 over disjoint blocks, by
   r_phi and CLIP score. No generation, so it is the tighter estimate for n <= 8 on this CPU; the candidates
   of part 1 are the end-to-end path.

Prints JSON lines and a table, writes --json and the plot (alignment and latency against n) to --plot.
Usage: .venv/bin/python benchmarks/bench_filtering.py [--per-cell 1] [--latency-prompts 1] [--steps 10]
(each prompt of part 1 is 16 images, each latency prompt 31: ~0.2-1 image/s on 2 shared CPU cores;
--smoke: 2 prompts, 2 steps).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from t2ialign.client import GeneratorClient, RewardClient
from t2ialign.evaluation.alignment import flat_eval_prompts
from t2ialign.evaluation.reward_accuracy import clip_scores, mismatch_pairs, pair_accuracy
from t2ialign.models.clip import ClipBackbone
from t2ialign.paths import DEFAULT_CLIP, REPO_ROOT
from t2ialign.serving.images import decode_image
from t2ialign.toyworld.grammar import SEEN_OBJECTS, UNSEEN_OBJECTS
from t2ialign.toyworld.oracle import Oracle

NS = (1, 2, 4, 8, 16)
KEY = "bench-filtering-user-key"


def start_services(store: Path, steps: int, threads: int, dtype: str | None) -> tuple[str, str]:
    """Ray Serve with the three apps on free loopback ports; returns (REST url, gRPC url)."""

    from t2ialign.serving.app import ServeArgs, init_local_ray, set_grpc_message_limit, start_all

    os.environ["T2IALIGN_API_KEYS"] = f"{KEY}:user"
    set_grpc_message_limit()
    ports = [_free_port(), _free_port()]
    args = ServeArgs.model_validate(
        {
            "reward": {"config": {"store_url": str(store)}, "scaling": {"num_cpus": 0.5}},
            "generator": {
                "config": {
                    "store_url": str(store),
                    "default_num_inference_steps": steps,
                    "torch_threads": threads,
                    "dtype": dtype,
                },
                "scaling": {"num_cpus": 1},
            },
            "http_port": ports[0],
            "grpc_port": ports[1],
        }
    )
    init_local_ray(num_cpus=2)
    start_all(args)
    return f"http://127.0.0.1:{ports[0]}", f"grpc://127.0.0.1:{ports[1]}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def best_of_blocks(scores: np.ndarray, matches: np.ndarray, n: int) -> float:
    """Oracle alignment of best-of-n over disjoint blocks of n candidates: (P, 16) scores and verdicts."""
    blocks = scores.shape[1] // n
    s = scores[:, : blocks * n].reshape(len(scores), blocks, n)
    m = matches[:, : blocks * n].reshape(len(scores), blocks, n)
    return float(np.take_along_axis(m, s.argmax(-1)[..., None], -1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-cell", type=int, default=1, help="held-out prompts per split and category")
    ap.add_argument("--latency-prompts", type=int, default=1, help="timed best_of_n=n requests per n")
    ap.add_argument("--steps", type=int, default=10, help="sampler steps per image (the reward pool's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the generator replica")
    ap.add_argument("--dtype", default=None, help="generator precision (models/precision.py); default: the package's")
    ap.add_argument("--json", type=Path, default=REPO_ROOT / "runs" / "bench_filtering.json")
    ap.add_argument("--plot", type=Path, default=REPO_ROOT / "docs" / "filtering.png")
    ap.add_argument("--smoke", action="store_true", help="1 prompt per split, 2 steps: checks the script")
    args = ap.parse_args()
    if args.smoke:
        args.per_cell, args.latency_prompts, args.steps = 1, 1, 2
    try:
        run(args)
    finally:
        from ray import serve

        serve.shutdown()
        import ray

        ray.shutdown()


def run(args: argparse.Namespace) -> None:
    rest, grpc_url = start_services(
        Path(tempfile.mkdtemp(prefix="bench-filtering-")), args.steps, args.threads, args.dtype
    )
    gen, rew = GeneratorClient(rest, KEY, timeout=1800), RewardClient(grpc_url, KEY, timeout=600)
    clip, oracle = ClipBackbone.load(DEFAULT_CLIP), Oracle()
    info = gen.model_info()
    prompts, splits = flat_eval_prompts(args.per_cell, seed=2468)
    if args.smoke:
        prompts, splits = [prompts[0], prompts[len(prompts) // 2]], [splits[0], splits[len(splits) // 2]]
    result: dict = {"steps": args.steps, "dtype": args.dtype, "prompts": len(prompts), "unet": info.get("unet_version")}

    # 3. The ranking check through the RewardService.
    for split, objects in (("seen", SEEN_OBJECTS), ("unseen", UNSEEN_OBJECTS)):
        pairs = mismatch_pairs(8 if args.smoke else 120, objects, seed=3 if split == "seen" else 4)
        one_call_per_image = lambda images, ps: np.array(  # noqa: E731  (each pair has its own prompt)
            [rew.score(p, [im])[0] for im, p in zip(images, ps, strict=True)]
        )
        result[f"pairs_{split}"] = pair_accuracy(one_call_per_image, pairs)
    result["reward_version"] = rew.score_full(prompts[0].text, [np.zeros((32, 32, 3), np.uint8)])["reward_version"]
    print(json.dumps({k: result[k] for k in ("reward_version", "pairs_seen", "pairs_unseen")}), flush=True)

    # 4. The held-out pool, scored through the RewardService (if cached: drawing it takes 15-40 minutes).
    from t2ialign.evaluation.reward_test_pool import TEST_POOL

    if TEST_POOL.is_file():
        result["held_out_pool"] = held_out_pool_figures(rew, clip, smoke=args.smoke)
        print(json.dumps({"held_out_pool": result["held_out_pool"]}), flush=True)
    else:
        print(f"skipping the held-out pool: {TEST_POOL} is not drawn (benchmarks/reward_choice.py draws it)")

    # 1. Alignment from 16 service-scored candidates per prompt.
    t0, rphi, clips, matches = time.time(), [], [], []
    for i, spec in enumerate(prompts):
        out = gen.generate(spec.text, num_images=16, best_of_n=16, seed=10_000 + i, return_images=True)
        order = sorted(out["images"], key=lambda x: x["index"])  # back to generation order: blocks are iid
        images = np.stack([decode_image(x["png"], 32, "candidate") for x in order])
        rphi.append([x["reward"] for x in order])
        clips.append(clip_scores(clip, images, [spec.text] * len(images)))
        matches.append(oracle.judge_batch(images, [spec] * len(images)))
        print(f"candidates {i + 1}/{len(prompts)} ({time.time() - t0:.0f} s)", flush=True)
    rphi, clips, matches = np.array(rphi), np.array(clips), np.array(matches, dtype=float)
    groups = {"seen": np.array(splits) == "seen", "unseen": np.array(splits) == "unseen", "all": slice(None)}
    result["alignment"] = {
        split: {
            ranker: {str(n): round(best_of_blocks(s[m], matches[m], n), 3) for n in NS}
            for ranker, s in (("r_phi", rphi), ("clip_score", clips))
        }
        for split, m in groups.items()
    }
    result["single_sample"] = round(float(matches.mean()), 3)

    # 2. Latency of real best_of_n=n requests (generate n, keep 1 inside the service).
    latency: dict[str, dict[str, float]] = {}
    for n in NS:
        seconds, kept = [], []
        for j in range(args.latency_prompts):
            spec = prompts[(j * len(prompts)) // max(args.latency_prompts, 1)]
            t = time.perf_counter()
            out = gen.generate(spec.text, num_images=1, best_of_n=n, seed=20_000 + j, return_images=True)
            seconds.append(time.perf_counter() - t)
            kept.append(oracle.judge(decode_image(out["images"][0]["png"], 32, "kept"), spec).match)
        latency[str(n)] = {"median_s": round(float(np.median(seconds)), 2), "direct_alignment": float(np.mean(kept))}
        print(json.dumps({"n": n, **latency[str(n)]}), flush=True)
    result["latency"] = latency
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["alignment"]), flush=True)
    _table(result)
    _plot(result, args.plot)


def held_out_pool_figures(rew: RewardClient, clip: ClipBackbone, smoke: bool) -> dict:
    """Best-of-n (n <= 8) on the cached held-out pool: r_phi scores from the service, CLIP score from here."""
    from t2ialign.evaluation.reward_test_pool import held_out_pool

    pool = held_out_pool()
    k = 8  # images per prompt in the pool, in prompt order
    images, prompts = pool["images"], [str(p) for p in pool["prompts"]]
    rows = range(0, 2 * k if smoke else len(images), k)
    rphi = np.array([rew.score(prompts[i], list(images[i : i + k])) for i in rows])
    clips = np.array([clip_scores(clip, images[i : i + k], prompts[i : i + k]) for i in rows])
    matches = pool["truth"][: len(rows) * k].reshape(len(rows), k).astype(float)
    splits = pool["splits"][: len(rows) * k : k]
    out: dict = {"prompts": len(rows), "single_sample": {}}
    for split in ("seen", "unseen"):
        m = splits == split
        out["single_sample"][split] = round(float(matches[m].mean()), 3) if m.any() else None
        out[split] = {
            ranker: {str(n): round(best_of_blocks(s[m], matches[m], n), 3) if m.any() else None for n in NS[:4]}
            for ranker, s in (("r_phi", rphi), ("clip_score", clips))
        }
    return out


def _table(result: dict) -> None:
    print("| n | r_phi seen | r_phi unseen | CLIP score seen | CLIP score unseen | latency (median s) |")
    print("|---|---|---|---|---|---|")
    a = result["alignment"]
    for n in map(str, NS):
        print(
            f"| {n} | {a['seen']['r_phi'][n]:.0%} | {a['unseen']['r_phi'][n]:.0%} | {a['seen']['clip_score'][n]:.0%} "
            f"| {a['unseen']['clip_score'][n]:.0%} | {result['latency'][n]['median_s']:.2f} |"
        )


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ranker, style in (("r_phi", "-"), ("clip_score", "--")):
        for split, color in (("seen", "tab:blue"), ("unseen", "tab:orange")):
            ys = [result["alignment"][split][ranker][str(n)] for n in NS]
            ax1.plot(NS, ys, style, color=color, marker="o", label=f"{ranker}, {split}")
    ax1.set(
        xscale="log", xticks=NS, xticklabels=NS, xlabel="n (generate n, keep the best 1)", ylabel="oracle alignment"
    )
    ax1.legend(fontsize=7)
    ax2.plot(NS, [result["latency"][str(n)]["median_s"] for n in NS], marker="o", color="k")
    ax2.set(xscale="log", xticks=NS, xticklabels=NS, xlabel="n", ylabel="latency per request (s, median)")
    fig.suptitle(f"best-of-n through the services, {result['steps']} steps, {result['prompts']} held-out prompts")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
