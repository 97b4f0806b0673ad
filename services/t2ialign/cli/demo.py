"""`t2ialign demo` / `make demo`: one round of the loop through the local services, with results (t2ialign.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from t2ialign.cli.common import Subparsers
from t2ialign.serving.storage import DEFAULT_STORE


def register(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="one round of the alignment loop through the local services, with a report")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="report.html, before_after.png, summary.json")
    p.add_argument("--store", default=DEFAULT_STORE, help="object store (default: the local one `t2ialign serve` uses)")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=9000)
    p.add_argument("--json", action="store_true", help="print the summary as JSON on the last line")
    p.add_argument("--smoke", action="store_true", help="a tiny round of seconds that measures nothing (tests)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> None:
    from t2ialign.cli.serve import register as register_serve
    from t2ialign.cli.serve import serve_args
    from t2ialign.demo import run_demo

    # exactly what `t2ialign serve --store ... --http-port ... --grpc-port ...` would start
    parser = argparse.ArgumentParser()
    register_serve(parser.add_subparsers())
    ports = ["--http-port", str(args.http_port), "--grpc-port", str(args.grpc_port)]
    serve = parser.parse_args(
        [
            "serve",
            "--store",
            args.store,
            *ports,
        ]
    )
    run_demo(serve_args(serve), args.out, as_json=args.json, smoke=args.smoke)
