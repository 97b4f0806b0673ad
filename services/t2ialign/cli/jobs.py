"""`t2ialign jobs list|get|cancel`: training jobs of a running trainer service (admin key), through the REST
gateway (http://...) or the gRPC TrainerService (grpc://host:port)."""

from __future__ import annotations

import argparse
import os

from t2ialign.cli.common import Subparsers, print_result

KINDS = ("reward", "finetune")
STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def register(sub: Subparsers) -> None:
    jobs = sub.add_parser("jobs", help="training jobs of the trainer service").add_subparsers(
        dest="jobs_cmd", required=True
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default="http://127.0.0.1:8000", help="gateway http(s)://... or grpc://host:port")
    common.add_argument("--key", default=None, help="admin API key (default: $T2IALIGN_API_KEY)")
    common.add_argument("--json", action="store_true", help="one JSON line")
    p = jobs.add_parser("list", parents=[common], help="jobs, newest first")
    p.add_argument("--kind", choices=KINDS, default="")
    p.add_argument("--state", choices=STATES, default="")
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--page-token", default="")
    p.set_defaults(func=cmd_list)
    for name, func, help_text in (("get", cmd_get, "one job"), ("cancel", cmd_cancel, "stop a queued or running job")):
        p = jobs.add_parser(name, parents=[common], help=help_text)
        p.add_argument("job_id")
        p.set_defaults(func=func)


def _client(args: argparse.Namespace):
    from t2ialign.client import API_KEY_ENV, TrainerClient

    if not (args.key or os.environ.get(API_KEY_ENV)):
        raise ValueError(f"no API key; pass --key or set {API_KEY_ENV} (jobs need an admin key)")
    return TrainerClient(args.url, args.key)


def _run(args: argparse.Namespace, call) -> None:
    from t2ialign.client import ClientError

    client = _client(args)
    try:
        print_result(call(client), args.json)
    except ClientError as e:
        raise ValueError(str(e)) from None
    except Exception as e:  # the gateway is not there (httpx's errors are not OSErrors)
        if type(e).__module__.startswith(("httpx", "httpcore")):
            raise ValueError(f"cannot reach {args.url} ({type(e).__name__}: {e}); is t2ialign serve running?") from None
        raise
    finally:
        client.close()


def cmd_list(args: argparse.Namespace) -> None:
    _run(args, lambda c: c.list(args.kind, args.state, args.page_size, args.page_token))


def cmd_get(args: argparse.Namespace) -> None:
    _run(args, lambda c: c.get(args.job_id))


def cmd_cancel(args: argparse.Namespace) -> None:
    _run(args, lambda c: c.cancel(args.job_id))
