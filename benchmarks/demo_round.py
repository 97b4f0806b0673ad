"""One round of the loop at `make demo`'s size, in-process, with several rankers and fine-tuning lengths side
by side on one shared rated pool: which recipe gives the demo round the most within its budget.

Pool: every seen count prompt plus --per-category seen prompts of each category (training.rounds.round_prompts),
--k images each from the shipped base at 10 sampler steps, rated by the simulated raters. Arms (--arms):
  round           r_phi trained from a fresh head on the pool (L_MSE only), the rounds preset's fine-tuning
  round-init      r_phi warm-started from the shipped weights/toy/reward and trained on the pool
  shipped         the shipped r_phi as it is (no training on the pool)
  <arm>-<steps>   any arm with another number of fine-tuning steps (e.g. round-init-600)
  --overrides     a JSON list of FinetuneConfig overrides, each one more "round" arm
Each fine-tuned UNet is measured on the coordinator gate's protocol (held-out prompts, seen and unseen; 10
sampler steps) at --eval-prompts per split and category, against the base: alignment gain, the panel,
fidelity and diversity ratios. One JSON line per arm.

Usage: .venv/bin/python benchmarks/demo_round.py [--per-category 40] [--k 9] [--arms round,round-init]
(2 CPU cores: ~5 minutes drawing the pool, then ~4-8 minutes an arm.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from t2ialign.evaluation.protocol import EvalProtocol, evaluate
from t2ialign.models.reward import RewardModel
from t2ialign.paths import DEFAULT_REWARD
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import collect_feedback
from t2ialign.training.finetune import finetune_unet
from t2ialign.training.recipes import round_finetune
from t2ialign.training.reward_train import RewardTrainConfig, train_reward_model
from t2ialign.training.rounds import round_prompts
from t2ialign.training.sample_pools import base_pipe


def _ranker(arm: str, pipe, pool, seed: int) -> RewardModel:
    shipped = RewardModel.load(DEFAULT_REWARD, pipe.text_encoder)
    if arm == "shipped":
        return shipped.eval()
    init = shipped if arm == "round-init" else None
    cfg = RewardTrainConfig(pc_weight=0.0, seed=seed)
    return train_reward_model(pipe.text_encoder, pool.images, pool.prompts, pool.labels, cfg, init=init).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-category", type=int, default=40)
    ap.add_argument("--k", type=int, default=9)
    ap.add_argument("--arms", default="round,round-init")
    ap.add_argument("--overrides", default="[]", help='JSON list of FinetuneConfig overrides: one "round" arm each')
    ap.add_argument("--eval-prompts", type=int, default=8, help="evaluation prompts per split and category")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = base_pipe()
    prompts = round_prompts(args.per_category, args.seed)
    t = time.time()
    pool = collect_feedback(
        pipe,
        prompts,
        args.k,
        SimulatedRaters(seed=args.seed),
        args.seed,
        "demo-bench",
        num_inference_steps=10,
        progress=True,
    )
    print(
        f"collect: {len(pool)} samples of {len(prompts)} prompts, good {pool.good_rate:.3f}, {time.time() - t:.0f} s",
        flush=True,
    )
    protocol = EvalProtocol(prompts_per_category=args.eval_prompts, num_inference_steps=10, best_of=4)
    base = evaluate(pipe, protocol, {"base": None}).models["base"]
    arms = [a for a in args.arms.split(",") if a] + [json.dumps(o) for o in json.loads(args.overrides)]
    for arm in arms:
        head, _, tail = arm.rpartition("-")
        name, steps = (head, int(tail)) if tail.isdigit() else (arm, None)
        overrides = json.loads(arm) if arm.startswith("{") else {}
        name = "round" if overrides else name
        t = time.time()
        ranker = _ranker(name, pipe, pool, args.seed)
        ft = round_finetune() if steps is None else dataclasses.replace(round_finetune(), steps=steps)
        ft = dataclasses.replace(ft, **overrides)
        unet = finetune_unet(pipe, ranker, pool, dataclasses.replace(ft, seed=args.seed))
        train_s = time.time() - t
        ev = evaluate(pipe, protocol, {"base": None, "cand": unet}, pairs=[("cand", "base")])
        cand, panel = ev.models["cand"], ev.panels["cand_vs_base"]["all"]
        print(
            json.dumps(
                {
                    "arm": arm,
                    "gain": round(cand["alignment_overall"]["all"] - base["alignment_overall"]["all"], 4),
                    "base": base["alignment_overall"],
                    "cand": cand["alignment_overall"],
                    "panel": panel,
                    "fidelity_x": round(cand["fidelity"]["all"] / base["fidelity"]["all"], 3),
                    "diversity_x": round(cand["diversity"] / base["diversity"], 3),
                    "train_s": round(train_s),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
