"""`t2ialign reproduce`: the paper end to end on the toy world (t2ialign.evaluation.reproduce), with a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from t2ialign.cli.common import Subparsers, limit_threads, print_result
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR

# evaluation.presets.PRESETS' names, named here to keep torch out of startup (tests/test_cli.py keeps them equal)
PRESET_NAMES = ("full", "quick", "rounds", "smoke", "smoke-rounds")


def register(sub: Subparsers) -> None:
    p = sub.add_parser("reproduce", help="run the paper end to end on the toy world and write a report")
    p.add_argument("--quick", action="store_true", help="the smaller run: at most 20 minutes on 2 CPU cores")
    p.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    p.add_argument("--out", type=Path, help="report folder (default: runs/reproduce/)")
    p.add_argument("--seed", type=int, default=0, help="seed of every stage")
    p.add_argument("--clip", type=Path, help="toy CLIP folder (default: the shipped weights)")
    p.add_argument("--generator", type=Path, help="base generator folder (default: the shipped weights)")
    p.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="a named size (evaluation/presets.py); overrides --quick (smoke presets: tests)",
    )
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> None:
    limit_threads()
    from t2ialign.evaluation.presets import PRESETS
    from t2ialign.evaluation.reproduce import DEFAULT_OUT, reproduce

    preset = args.preset or ("quick" if args.quick else "full")
    cfg = PRESETS[preset](seed=args.seed)
    out = args.out or DEFAULT_OUT
    results = reproduce(cfg, out, args.clip or DEFAULT_CLIP, args.generator or DEFAULT_GENERATOR)
    print(f"[reproduce] report: {Path(out) / 'report.html'}", file=sys.stderr)
    print_result(results["headline"], args.json)
