"""`t2ialign` command line. Each subcommand is a thin wrapper over library code; heavy imports are lazy.

One module per command group; each has `register(subparsers)`, which adds its parsers and sets
`func=<cmd_...>` on each. To add a group, write the module and list it in COMMAND_GROUPS.
"""

from __future__ import annotations

import argparse
import sys

from t2ialign.cli import demo, evaluate, jobs, pretrain, reproduce, round, serve, store, world

COMMAND_GROUPS = (pretrain, world, evaluate, reproduce, serve, store, round, jobs, demo)  # order of `t2ialign --help`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2ialign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, OSError) as e:  # bad input, a missing file, an unreachable store: say it in one line
        print(f"t2ialign: error: {e}", file=sys.stderr)
        sys.exit(2)
