"""Chained rounds of the loop (collect -> rate -> train r_phi -> fine-tune), each round sampling from the last
round's fine-tuned UNet (`training.rounds.run_rounds`), with oracle alignment after every round
(docs/REPRODUCTION.md, "Several rounds").

Prompts: every seen count prompt plus --per-category seen prompts of each category, K images each at 10
sampler steps, rated by the simulated raters (skips and flips). Fine-tuning settings: the arm JSON
(`FinetuneConfig` overrides), by default the high-noise arm of "The reward-weighted term at the high-noise
end only" with r_phi (trained on every round's labels so far) as a ranker within each prompt (`prompt_top`).
Evaluation: benchmarks/finetune_arms.py's (same prompts and seeds).

Usage: .venv/bin/python benchmarks/finetune_rounds.py [--rounds 3] [--arm JSON] [--k 9] [--per-category 40] [--out DIR]
(~30 minutes a round on 2 CPU cores: 13 drawing, 9 fine-tuning, 4 evaluating; --smoke: seconds).
"""

from __future__ import annotations

import argparse
import json

import torch
from finetune_arms import base_pipe, evaluate, json_overrides  # benchmarks/ is on sys.path as a script

from t2ialign.evaluation.presets import ROUND_ARM
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.finetune import FinetuneConfig
from t2ialign.training.reward_train import RewardTrainConfig
from t2ialign.training.rounds import RoundConfig, round_prompts, run_rounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arm", default=json.dumps(ROUND_ARM), help="JSON FinetuneConfig overrides")
    ap.add_argument("--reward", default='{"pc_weight": 0.0}', help="JSON RewardTrainConfig overrides")
    ap.add_argument("--k", type=int, default=9, help="rated images per prompt and round")
    ap.add_argument("--per-category", type=int, default=40, help="seen prompts per category, beside the count ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="save each round's UNet and r_phi under OUT/r<k>/")
    ap.add_argument("--smoke", action="store_true", help="tiny: 1 step, 2 sampler steps; checks the script")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pipe = base_pipe()
    prompts = round_prompts(args.per_category, args.seed * 7_919 + 5)
    smoke = {"steps": 1, "weight_top_min": None}  # a 1-epoch r_phi may rate every sample below the floor
    finetune = FinetuneConfig(**{**json.loads(args.arm), **(smoke if args.smoke else {})})
    reward = RewardTrainConfig(**{**json_overrides(json.loads(args.reward)), **({"epochs": 1} if args.smoke else {})})
    k = 2 if args.smoke else args.k
    unlabeled = k // 2 if finetune.use_unlabeled else 0  # unlabeled samples per prompt, scored by r_phi
    cfg = RoundConfig(
        images_per_prompt=k,
        unlabeled_per_prompt=unlabeled,
        reward=reward,
        finetune=finetune,
        num_inference_steps=2 if args.smoke else 10,
    )
    prompts = prompts[::10] if args.smoke else prompts
    print(json.dumps({"prompts": len(prompts), "k": cfg.images_per_prompt, "arm": json.loads(args.arm)}), flush=True)

    done: list[dict] = []

    def evaluated(p, unet) -> dict:  # printed as soon as a round ends: a round takes ~20 minutes
        figures = evaluate(p, unet, args.smoke)
        done.append(figures)
        print(f"round {len(done)}", json.dumps(figures), flush=True)
        return figures

    for res in run_rounds(
        args.rounds,
        pipe,
        prompts,
        SimulatedRaters(seed=args.seed),
        cfg,
        seed=args.seed,
        evaluate=evaluated,
        out_dir=args.out,
    ):
        m = res.metrics
        summary = {
            "good_rate": round(m["good_rate"], 3),
            "rated": m["num_rated"],
            "collect_s": m["collect_seconds"],
            "finetune_s": m["finetune_seconds"],
        }
        print(res.round_id, json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
