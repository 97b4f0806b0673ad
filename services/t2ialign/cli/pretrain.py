"""`t2ialign pretrain clip|generator|reward`: the recipes behind the shipped toy weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from t2ialign.cli.common import Subparsers, limit_threads
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, DEFAULT_REWARD


def register(sub: Subparsers) -> None:
    p = sub.add_parser("pretrain", help="train a toy base model (recipes for the shipped weights)")
    p.add_argument("model", choices=["clip", "generator", "reward"])
    p.add_argument("--out", type=Path, help="export folder (default: the shipped weights folder)")
    p.add_argument("--clip", type=Path, help="toy CLIP folder for the generator's text encoder")
    p.add_argument("--steps", type=int, help="total optimizer steps (default: the recipe's)")
    p.add_argument("--max-minutes", type=float, help="stop after this much wall time and export")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--tiny", action="store_true", help="tiny model and batch (smoke tests)")
    p.add_argument("--init-from", type=Path, help="generator: warm-start from a saved UNet folder")
    p.add_argument("--generator", type=Path, help="reward: the pipeline folder whose samples are rated (default: base)")
    p.set_defaults(func=cmd_pretrain)


def cmd_pretrain(args: argparse.Namespace) -> None:
    limit_threads()
    if args.model == "clip":
        from t2ialign.training.clip_pretrain import ClipTrainConfig, train_clip

        cfg = ClipTrainConfig(steps=args.steps or ClipTrainConfig.steps)
        if args.tiny:
            cfg.model_name, cfg.batch_size, cfg.checkpoint_every = "t2ialign-tiny-test-clip", 16, 2
        train_clip(cfg, args.out or DEFAULT_CLIP, resume=args.resume, max_minutes=args.max_minutes)
    elif args.model == "reward":
        from t2ialign.models.loading import load_generator
        from t2ialign.training.reward_pretrain import RewardPretrainConfig, pretrain_reward, tiny_config

        cfg = tiny_config() if args.tiny else RewardPretrainConfig()
        generator = args.generator or DEFAULT_GENERATOR  # the pipeline whose samples are rated
        out = args.out or DEFAULT_REWARD
        pretrain_reward(
            cfg, load_generator(generator), generator, out, resume=args.resume, max_minutes=args.max_minutes
        )
    else:
        from t2ialign.models.clip import ClipBackbone
        from t2ialign.training.generator_pretrain import GeneratorTrainConfig, train_generator

        cfg = GeneratorTrainConfig(steps=args.steps or GeneratorTrainConfig.steps)
        if args.tiny:
            cfg.tiny, cfg.batch_size, cfg.checkpoint_every = True, 4, 2
        clip = ClipBackbone.load(args.clip or DEFAULT_CLIP)
        out = args.out or DEFAULT_GENERATOR
        train_generator(cfg, clip, out, resume=args.resume, max_minutes=args.max_minutes, init_from=args.init_from)
