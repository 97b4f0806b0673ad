"""The demo's steps: start the services, draw before-grids, run one round through the coordinator, draw
after-grids, summarize and report. Everything goes through the public APIs (REST for rounds, gRPC for
Generate and the trainer's jobs), as a product backend or an ML engineer would call them."""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from t2ialign.common.png import decode_png
from t2ialign.demo.report import before_after_grid, judge, print_table, write_report
from t2ialign.demo.watch import RoundWatch
from t2ialign.serving.app import ServeArgs

# Two generator replicas (a quarter CPU each, for Ray's scheduling) so the promotion swaps a fleet; the
# coordinator's gate and the training worker use both cores while the generators are idle.
DEMO_SCALING: dict[str, Any] = {
    "generator": {"scaling": {"num_replicas": 2, "num_cpus": 0.25}},
    "coordinator": {"config": {"torch_threads": 2}},
    "trainer": {"config": {"torch_threads": 2, "checkpoint_every_steps": 100}},  # a 300-step job: 3 checkpoints
}
# --smoke: a round of seconds that exercises every step (tests/test_demo.py); it measures nothing.
SMOKE: dict[str, Any] = {
    "coordinator": {
        "config": {
            "prompts_per_category": 1,
            "num_images": 3,
            "num_inference_steps": 2,
            "gate": {
                "prompts_per_category": 1,
                "images_per_prompt": 2,
                "num_inference_steps": 2,
                "min_alignment_gain": -1.0,
                "min_win_loss_ratio": 0.0,
                "max_fidelity_ratio": 1e9,
                "min_diversity_ratio": 0.0,
            },
            "trainer": {
                "reward_epochs": 2,
                "finetune_steps": 4,
                "finetune_recipe": "default",
            },  # 2-epoch r_phi: no sample clears the round recipe's floor
        }
    }
}
GRID_PROMPTS = [  # one per category on seen objects, then the same on the unseen "diamond" (held out from rounds)
    "two circles",
    "a blue triangle",
    "a square in the snow",
    "three red crosses at night",
    "two diamonds",
    "a green diamond",
    "a diamond in the desert",
    "four yellow diamonds on the grass",
]
GRID_IMAGES, GRID_STEPS = 4, 10


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict | None) else v
    return out


def demo_serve_args(serve_args: ServeArgs, smoke: bool = False) -> ServeArgs:
    """`t2ialign serve`'s applications with the demo's scaling (and, for --smoke, a tiny round)."""
    layered = _merge(serve_args.model_dump(exclude_unset=True), DEMO_SCALING)  # unset fields keep defaults
    return ServeArgs.model_validate(_merge(layered, SMOKE) if smoke else layered)


def _keys() -> tuple[str, str]:
    """This run's user and admin keys (T2IALIGN_DEMO_KEYS is not needed: the demo makes its own)."""
    user, admin = f"demo-user-{secrets.token_hex(8)}", f"demo-admin-{secrets.token_hex(8)}"
    os.environ["T2IALIGN_API_KEYS"] = f"{user}:user,{admin}:admin"
    return user, admin


def _grid(generator: Any, steps: int) -> tuple[list[np.ndarray], str]:
    """GRID_IMAGES images of each grid prompt (prompt i at seed i), and the UNet version that drew them."""
    rows, versions = [], set()
    for i, prompt in enumerate(GRID_PROMPTS):
        out = generator.generate(prompt, num_images=GRID_IMAGES, seed=i, num_inference_steps=steps, return_images=True)
        rows.append(np.stack([decode_png(im["png"]) for im in out["images"]]))
        versions.add(out["unet_version"])
    return rows, ",".join(sorted(versions))


def _side(gate: dict[str, Any], name: str) -> dict[str, Any]:
    m = gate["metrics"]
    table = gate["alignment"][name]
    side = {
        "alignment": m[f"alignment_{name}"],
        "seen": table.get("seen", {}),
        "unseen": table.get("unseen", {}),
        "fidelity": m[f"fidelity_{name}"],
        "diversity": m[f"diversity_{name}"],
    }
    if f"mean_reward_{name}" in m:
        side["mean_reward"] = m[f"mean_reward_{name}"]
    return side


def summarize(rec: dict[str, Any], swap: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The `--json` summary (issue 20's shape) from the round's record and the trickle's calls."""
    gate = rec.get("gate") or {}
    if not gate:
        raise RuntimeError(f"round {rec['round_id']} ended {rec['state']} before the gate: {rec.get('error')}")
    m = gate["metrics"]
    promoted = rec["state"] == "PROMOTED"
    return {
        "round_id": rec["round_id"],
        "state": rec["state"],
        "before": _side(gate, "serving"),
        "after": _side(gate, "candidate"),
        "panel": {"win": m["panel_win"], "lose": m["panel_lose"], "tie": m["panel_tie"]},
        "promoted": promoted,
        "gate_reason": gate["reason"],
        "checks": gate["checks"],
        "unet_version_before": rec["unet_version"]["version"],
        "unet_version_after": rec["candidate_unet"]["version"] if promoted else rec["unet_version"]["version"],
        "candidate_unet": rec["candidate_unet"]["version"],
        "reward_version": rec["candidate_reward"]["version"],
        "replicas": rec.get("replicas", []),
        "error": rec.get("error", ""),
        "swap": swap,
        "failed_requests_during_swap": swap["failed"],
        "seconds": round(seconds, 1),
    }


def _round(coordinator: Any, say: Any, num_rounds_done: int) -> str:
    """Resume a demo round an interrupted run left working, or start the next one."""
    for rec in coordinator.status()["active_rounds"]:
        if rec["round_id"].startswith("demo-"):
            say(f"resuming round {rec['round_id']} ({rec['state']})")
            return rec["round_id"]
    round_id = f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}"  # each run's seed differs: its prompts, noise and raters
    rec = coordinator.start_round(round_id=round_id, seed=num_rounds_done, raters="simulated", auto_promote=True)
    say(f"started round {round_id}: {rec['num_prompts']} prompts x {rec['num_images']} images")
    return round_id


def run_demo(serve_args: ServeArgs, out_dir: Path, as_json: bool = False, smoke: bool = False) -> dict[str, Any]:
    import grpc
    import ray
    from ray import serve

    from t2ialign.client import CoordinatorClient, GeneratorClient, TrainerClient
    from t2ialign.serving.app import set_grpc_message_limit, start_all

    def say(line: str) -> None:
        print(line, flush=True)

    t0 = time.time()
    args = demo_serve_args(serve_args, smoke)
    user, admin = _keys()
    http, target = f"http://{args.http_host}:{args.http_port}", f"{args.http_host}:{args.grpc_port}"
    steps = 2 if smoke else GRID_STEPS
    out_dir.mkdir(parents=True, exist_ok=True)
    set_grpc_message_limit()
    say(f"1/5 starting the services (what `t2ialign serve` starts; store {args.coordinator.config.store_url}) …")
    ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        start_all(args)
        coordinator = CoordinatorClient(http, admin)
        generator = GeneratorClient(f"grpc://{target}", user)
        trainer = TrainerClient(f"grpc://{target}", admin)
        status = coordinator.status()
        say(f"    up in {time.time() - t0:.0f} s; serving UNet {status['serving_unet']}")
        say("2/5 before: the serving UNet draws the grid prompts …")
        before, v_before = _grid(generator, steps)
        say("3/5 one round through the coordinator: generate -> simulated raters -> r_phi -> fine-tune -> gate -> swap")
        round_id = _round(coordinator, say, len(status["unet_history"]))
        with grpc.insecure_channel(target) as channel:
            watch = RoundWatch(coordinator, trainer, channel, user, say)
            rec = watch.run(round_id)
        swap = watch.versions()
        summary = summarize(rec, swap, time.time() - t0)  # kept at once: the round is done whatever follows
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        say("4/5 after: the same prompts and seeds …")
        after, v_after = _grid(generator, steps)
    finally:
        serve.shutdown()
        ray.shutdown()
    say("5/5 results")
    summary["seconds"] = round(time.time() - t0, 1)
    blocks = [
        {"title": f"before: UNet {v_before}", "images": before, "verdicts": judge(before, GRID_PROMPTS)},
        {"title": f"after: UNet {v_after}", "images": after, "verdicts": judge(after, GRID_PROMPTS)},
    ]
    grid = before_after_grid(GRID_PROMPTS, blocks, out_dir / "before_after.png")
    summary["grid"] = {b["title"]: sum(map(sum, b["verdicts"])) for b in blocks}
    report = write_report(summary, grid, out_dir)
    print_table(summary, say)
    say(f"\nreport: {report}\ngrid:   {grid}\nthe promoted UNet stays in the store: `t2ialign serve` serves it")
    if as_json:
        print(json.dumps(summary), flush=True)
    return summary
