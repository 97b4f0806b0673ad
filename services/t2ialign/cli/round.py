"""`t2ialign round start|status|promote|rollback`: the coordinator's admin API from a shell, over the REST
gateway of a running `t2ialign serve` (key: --api-key or $T2IALIGN_API_KEY, admin scope).

Heavy imports happen only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from t2ialign.cli.common import Subparsers

TERMINAL = ("PROMOTED", "REJECTED", "FAILED", "CANCELLED")


def register(sub: Subparsers) -> None:
    p = sub.add_parser("round", help="alignment rounds on running services: start, status, promote, rollback")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the REST gateway of `t2ialign serve`")
    p.add_argument("--api-key", default=None, help="admin key (default $T2IALIGN_API_KEY)")
    cmds = p.add_subparsers(dest="round_cmd", required=True)
    s = cmds.add_parser("start", help="start a round (prompts: the toy grammar's feedback prompts by default)")
    s.add_argument("--prompt", action="append", default=[], help="a prompt (repeat); default: the toy grammar's")
    s.add_argument("--num-images", type=int, default=0, help="images per prompt (0 = the coordinator's default)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--num-inference-steps", type=int, default=0)
    s.add_argument("--raters", choices=["simulated", "people"], default="simulated")
    s.add_argument("--labels-to-train", type=int, default=0, help="people: labels that start training")
    s.add_argument("--auto-promote", action="store_true", help="promote as soon as the gate passes")
    s.add_argument("--round-id", default="")
    s.add_argument("--wait", action="store_true", help="show progress until the round ends")
    st = cmds.add_parser("status", help="serving versions, pointer history and active rounds; or one round")
    st.add_argument("round_id", nargs="?", help="one round's record")
    st.add_argument("--wait", action="store_true", help="with a round id: show progress until it ends")
    pr = cmds.add_parser("promote", help="put a version in service on every generator replica")
    pr.add_argument("version")
    pr.add_argument("--kind", choices=["unet", "reward"], default="unet")
    pr.add_argument("--skip-gate", action="store_true", help="promote a version that did not pass the gate")
    pr.add_argument("--reason", default="")
    rb = cmds.add_parser("rollback", help="put an earlier version back (default: the one before)")
    rb.add_argument("version", nargs="?", default="")
    rb.add_argument("--kind", choices=["unet", "reward"], default="unet")
    rb.add_argument("--reason", default="")
    p.set_defaults(func=cmd_round)


def wait_round(client, round_id: str, poll_s: float = 2.0, out=sys.stderr) -> dict:
    """Print each change of state and counts until the round is terminal or READY; returns the last record."""
    last = None
    while True:
        r = client.get_round(round_id)
        line = f"[round {round_id}] {r['state']}: {r['num_generated']} images, {r['num_labels']} labels"
        if line != last:
            print(line + (f" ({r['error']})" if r.get("error") else ""), file=out, flush=True)
            last = line
        if r["state"] in TERMINAL or r["state"] == "READY":
            return r
        time.sleep(poll_s)


def cmd_round(args: argparse.Namespace) -> None:
    from t2ialign.client import ClientError, CoordinatorClient

    client = CoordinatorClient(args.url, args.api_key)
    try:
        if args.round_cmd == "start":
            r = client.start_round(
                prompts=args.prompt,
                num_images=args.num_images,
                seed=args.seed,
                num_inference_steps=args.num_inference_steps,
                raters=args.raters,
                labels_to_train=args.labels_to_train,
                auto_promote=args.auto_promote,
                round_id=args.round_id,
            )
            r = wait_round(client, r["round_id"]) if args.wait else r
        elif args.round_cmd == "status":
            if args.round_id:
                r = wait_round(client, args.round_id) if args.wait else client.get_round(args.round_id)
            else:
                r = client.status()
        elif args.round_cmd == "promote":
            r = client.promote(args.version, args.kind, args.skip_gate, args.reason)
        else:
            r = client.rollback(args.version, args.kind, args.reason)
    except ClientError as e:
        print(f"t2ialign round: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(r, indent=2))
