"""Chained rounds of the loop (collect -> rate -> train r_phi -> fine-tune), each round sampling from the last
round's fine-tuned UNet (`training.rounds.run_rounds`), measured after every round as benchmarks/finetune_arms.py
measures (`evaluation.protocol.model_figures`: the protocol of --preset plus every count prompt).

Prompts: every seen count prompt plus --per-category seen prompts of each category, K images each at 10
sampler steps, rated by the simulated raters (skips and flips). Fine-tuning: the rounds preset's
(`training.recipes.round_finetune`) with the --arm JSON's `FinetuneConfig` overrides on top.

Usage: .venv/bin/python benchmarks/finetune_rounds.py [--rounds 3] [--arm JSON] [--k 9] [--per-category 40] [--out DIR]
(~30 minutes a round on 2 CPU cores: 13 drawing, 9 fine-tuning, 4 evaluating; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from t2ialign.evaluation.presets import PRESETS, preset_protocol
from t2ialign.evaluation.protocol import model_figures
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.recipes import round_finetune
from t2ialign.training.reward_train import RewardTrainConfig
from t2ialign.training.rounds import RoundConfig, round_prompts, run_rounds
from t2ialign.training.sample_pools import base_pipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arm", default="{}", help="JSON FinetuneConfig overrides on top of the rounds preset's")
    ap.add_argument("--reward", default='{"pc_weight": 0.0}', help="JSON RewardTrainConfig overrides")
    ap.add_argument("--k", type=int, default=9, help="rated images per prompt and round")
    ap.add_argument("--per-category", type=int, default=40, help="seen prompts per category, beside the count ones")
    ap.add_argument("--seed", type=int, default=0, help="prompts, raters and fine-tuning")
    ap.add_argument("--eval-seed", type=int, help="the evaluation protocol's seed (default: --seed)")
    ap.add_argument("--preset", default="rounds", choices=sorted(PRESETS), help="whose evaluation protocol")
    ap.add_argument("--prompts-per-category", type=int, help="evaluation prompts per split and category")
    ap.add_argument("--out", default=None, help="save each round's UNet and r_phi under OUT/r<k>/")
    ap.add_argument("--smoke", action="store_true", help="tiny: 1 step, 2 sampler steps; checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pipe = base_pipe()
    preset = "smoke" if args.smoke else args.preset
    eval_seed = args.seed if args.eval_seed is None else args.eval_seed
    protocol = preset_protocol(preset, eval_seed, args.prompts_per_category)
    prompts = round_prompts(args.per_category, args.seed * 7_919 + 5)
    smoke = {"steps": 1, "weight_top_min": None}  # a 1-epoch r_phi may rate every sample below the floor
    finetune = dataclasses.replace(round_finetune(), **{**json.loads(args.arm), **(smoke if args.smoke else {})})
    reward = RewardTrainConfig(**{**json.loads(args.reward), **({"epochs": 1} if args.smoke else {})})
    k = 2 if args.smoke else args.k
    cfg = RoundConfig(
        images_per_prompt=k,
        unlabeled_per_prompt=k // 2 if finetune.use_unlabeled else 0,  # unlabeled samples per prompt, for r_phi
        reward=reward,
        finetune=finetune,
        num_inference_steps=2 if args.smoke else 10,
    )
    prompts = prompts[::10] if args.smoke else prompts
    print(json.dumps({"prompts": len(prompts), "k": k, "arm": dataclasses.asdict(finetune)}), flush=True)
    done: list[dict] = []

    def evaluated(p, unet) -> dict:  # printed as soon as a round ends: a round takes ~20 minutes
        figures = model_figures(p, protocol, unet, 2 if args.smoke else 8)
        done.append(figures)
        print(f"round {len(done)}", json.dumps(figures), flush=True)
        return figures

    raters = SimulatedRaters(seed=args.seed)
    for res in run_rounds(
        args.rounds, pipe, prompts, raters, cfg, seed=args.seed, evaluate=evaluated, out_dir=args.out
    ):
        m = res.metrics
        summary = {"good_rate": round(m["good_rate"], 3), "rated": m["num_rated"]}
        summary |= {"collect_s": m["collect_seconds"], "finetune_s": m["finetune_seconds"]}
        print(res.round_id, json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
