"""`t2ialign demo` / `make demo`: the alignment loop on the embedded toy world (t2ialign.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from t2ialign.cli.common import Subparsers, limit_threads


def register(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="the alignment loop on the embedded toy world, with results")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> None:
    limit_threads()
    from t2ialign.demo import run_demo

    run_demo(args.out)
