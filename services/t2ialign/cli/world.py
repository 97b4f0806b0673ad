"""`t2ialign world check-oracle|clip-zero-shot`: checks of the embedded toy world."""

from __future__ import annotations

import argparse
from pathlib import Path

from t2ialign.cli.common import Subparsers, limit_threads, print_result
from t2ialign.paths import DEFAULT_CLIP


def register(sub: Subparsers) -> None:
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


def cmd_check_oracle(args: argparse.Namespace) -> None:
    from t2ialign.evaluation.oracle_check import check_oracle

    print_result(check_oracle(n=args.n, seed=args.seed, size=args.size), args.json)


def cmd_clip_zero_shot(args: argparse.Namespace) -> None:
    limit_threads()
    from t2ialign.evaluation.clip_zero_shot import zero_shot_accuracy
    from t2ialign.models.clip import ClipBackbone

    print_result(zero_shot_accuracy(ClipBackbone.load(args.clip or DEFAULT_CLIP), n=args.n, seed=args.seed), args.json)
