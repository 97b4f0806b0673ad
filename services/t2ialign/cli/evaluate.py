"""`t2ialign eval` (oracle alignment of a generator) and `t2ialign generate` (an image grid)."""

from __future__ import annotations

import argparse
from pathlib import Path

from t2ialign.cli.common import SAMPLERS, Subparsers, limit_threads, print_result

SAMPLER_HELP = "default: the pipeline's (Euler ancestral for v models)"


def register(sub: Subparsers) -> None:
    p = sub.add_parser("eval", help="oracle alignment per category, seen and unseen prompts")
    p.add_argument("--model", default="base", help="'base' or a path to a saved UNet or pipeline folder")
    p.add_argument("--prompts-per-category", type=int, default=16)
    p.add_argument("--images-per-prompt", type=int, default=4)
    p.add_argument("--num-inference-steps", type=int, default=20)
    p.add_argument("--guidance-scale", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--sampler", choices=SAMPLERS, help=SAMPLER_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("generate", help="generate an image grid")
    p.add_argument("prompt", nargs="+")
    p.add_argument("--model", default="base")
    p.add_argument("--num-images", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--guidance-scale", type=float, default=4.0)
    p.add_argument("--sampler", choices=SAMPLERS, help=SAMPLER_HELP)
    p.add_argument("--out", type=Path, default=Path("grid.png"))
    p.set_defaults(func=cmd_generate)


def cmd_eval(args: argparse.Namespace) -> None:
    limit_threads()
    from t2ialign.evaluation.alignment import evaluate_alignment
    from t2ialign.models.loading import load_generator

    pipe = load_generator(args.model)
    result = evaluate_alignment(
        pipe,
        prompts_per_category=args.prompts_per_category,
        images_per_prompt=args.images_per_prompt,
        seed=args.seed,
        num_inference_steps=args.num_inference_steps,
        guidance_scale=args.guidance_scale,
        progress=True,
        sampler=args.sampler,
    )
    print_result(result, args.json)


def cmd_generate(args: argparse.Namespace) -> None:
    limit_threads()
    from t2ialign.evaluation.grids import save_grid
    from t2ialign.models.loading import load_generator

    pipe = load_generator(args.model)
    rows = [
        pipe(p, num_images=args.num_images, seed=args.seed, guidance_scale=args.guidance_scale, sampler=args.sampler)
        for p in args.prompt
    ]
    save_grid(rows, args.prompt, args.out)
    print(f"wrote {args.out}")
