"""`t2ialign` command line. Each subcommand is a thin wrapper over library code; heavy imports are lazy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR

SAMPLERS = ("euler-a", "dpm++", "ddim")  # models.toy_pipeline.SAMPLERS, named here to keep torch out of startup


def _threads() -> None:
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 4))


def cmd_pretrain(args: argparse.Namespace) -> None:
    _threads()
    if args.model == "clip":
        from t2ialign.training.clip_pretrain import ClipTrainConfig, train_clip

        cfg = ClipTrainConfig(steps=args.steps or ClipTrainConfig.steps)
        if args.tiny:
            cfg.model_name, cfg.batch_size, cfg.checkpoint_every = "t2ialign-tiny-test-clip", 16, 2
        train_clip(cfg, args.out or DEFAULT_CLIP, resume=args.resume, max_minutes=args.max_minutes)
    else:
        from t2ialign.models.clip import ClipBackbone
        from t2ialign.training.generator_pretrain import GeneratorTrainConfig, train_generator

        cfg = GeneratorTrainConfig(steps=args.steps or GeneratorTrainConfig.steps)
        if args.tiny:
            cfg.tiny, cfg.batch_size, cfg.checkpoint_every = True, 4, 2
        clip = ClipBackbone.load(args.clip or DEFAULT_CLIP)
        out = args.out or DEFAULT_GENERATOR
        train_generator(cfg, clip, out, resume=args.resume, max_minutes=args.max_minutes, init_from=args.init_from)


def cmd_check_oracle(args: argparse.Namespace) -> None:
    from t2ialign.evaluation.oracle_check import check_oracle

    result = check_oracle(n=args.n, seed=args.seed, size=args.size)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


def cmd_eval(args: argparse.Namespace) -> None:
    _threads()
    from t2ialign.evaluation.alignment import evaluate_alignment, load_generator

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
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


def cmd_generate(args: argparse.Namespace) -> None:
    _threads()
    from t2ialign.evaluation.alignment import load_generator
    from t2ialign.evaluation.grids import save_grid

    pipe = load_generator(args.model)
    rows = [
        pipe(p, num_images=args.num_images, seed=args.seed, guidance_scale=args.guidance_scale, sampler=args.sampler)
        for p in args.prompt
    ]
    save_grid(rows, args.prompt, args.out)
    print(f"wrote {args.out}")


def cmd_clip_zero_shot(args: argparse.Namespace) -> None:
    _threads()
    from t2ialign.evaluation.clip_zero_shot import zero_shot_accuracy
    from t2ialign.models.clip import ClipBackbone

    result = zero_shot_accuracy(ClipBackbone.load(args.clip or DEFAULT_CLIP), n=args.n, seed=args.seed)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


def cmd_demo(args: argparse.Namespace) -> None:
    _threads()
    from t2ialign.demo import run_demo

    run_demo(args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2ialign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="train a toy base model (recipes for the shipped weights)")
    p.add_argument("model", choices=["clip", "generator"])
    p.add_argument("--out", type=Path, help="export folder (default: the shipped weights folder)")
    p.add_argument("--clip", type=Path, help="toy CLIP folder for the generator's text encoder")
    p.add_argument("--steps", type=int, help="total optimizer steps (default: the recipe's)")
    p.add_argument("--max-minutes", type=float, help="stop after this much wall time and export")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--tiny", action="store_true", help="tiny model and batch (smoke tests)")
    p.add_argument("--init-from", type=Path, help="generator: warm-start from a saved UNet folder")
    p.set_defaults(func=cmd_pretrain)

    world = sub.add_parser("world", help="the embedded toy world").add_subparsers(dest="world_cmd", required=True)
    p = world.add_parser("check-oracle", help="oracle accuracy on fresh clean renders")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check_oracle)
    p = world.add_parser("clip-zero-shot", help="toy CLIP zero-shot accuracy per attribute on clean renders")
    p.add_argument("--clip", type=Path)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clip_zero_shot)

    p = sub.add_parser("eval", help="oracle alignment per category, seen and unseen prompts")
    p.add_argument("--model", default="base", help="'base' or a path to a saved UNet or pipeline folder")
    p.add_argument("--prompts-per-category", type=int, default=16)
    p.add_argument("--images-per-prompt", type=int, default=4)
    p.add_argument("--num-inference-steps", type=int, default=20)
    p.add_argument("--guidance-scale", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--sampler", choices=SAMPLERS, help="default: the pipeline's (Euler ancestral for v models)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("generate", help="generate an image grid")
    p.add_argument("prompt", nargs="+")
    p.add_argument("--model", default="base")
    p.add_argument("--num-images", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--guidance-scale", type=float, default=4.0)
    p.add_argument("--sampler", choices=SAMPLERS, help="default: the pipeline's (Euler ancestral for v models)")
    p.add_argument("--out", type=Path, default=Path("grid.png"))
    p.set_defaults(func=cmd_generate)

    from t2ialign.cli_serve import add_serve_parser
    from t2ialign.evaluation.reproduce import add_reproduce_parser

    add_reproduce_parser(sub)
    add_serve_parser(sub)

    p = sub.add_parser("demo", help="the alignment loop on the embedded toy world, with results")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"t2ialign: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
