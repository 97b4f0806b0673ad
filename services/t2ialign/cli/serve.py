"""`t2ialign serve`: the reward, generator and gateway apps under a local Ray Serve (HTTP 8000, gRPC 9000),
on the embedded defaults (local store, toy models). Equivalent to `serve run deploy/serve_local.yaml`.
Ray and the services are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from t2ialign.cli.common import Subparsers
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, DEFAULT_REWARD
from t2ialign.serving.storage import DEFAULT_STORE

if TYPE_CHECKING:
    from t2ialign.serving.app import ServeArgs


def register(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the reward, generator, coordinator and gateway services locally (Ray Serve)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP/gRPC listen address (0.0.0.0: every interface)")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=9000)
    p.add_argument("--store", default=DEFAULT_STORE, help="object store: a path, file:///path or s3://bucket?...")
    p.add_argument("--backend", choices=["toy", "sd"], default="toy")
    p.add_argument("--model", default=str(DEFAULT_GENERATOR), help="base pipeline: folder or store:<prefix>")
    p.add_argument(
        "--clip", default=None, help=f"toy CLIP folder or store:<prefix> (default {DEFAULT_CLIP}, beside --model)"
    )
    p.add_argument(
        "--reward",
        default=str(DEFAULT_REWARD),
        help="r_phi served while the store's reward-serving pointer is unset: folder or store:<prefix>",
    )
    p.add_argument("--num-inference-steps", type=int, default=20, help="default steps when a request gives none")
    p.add_argument("--address", default=None, help="join a running Ray cluster (default: start one here)")
    p.add_argument("--check", action="store_true", help="make one Score and one Generate call, then exit")
    p.set_defaults(func=cmd_serve)


def _api_keys() -> tuple[str, str] | None:
    """Keep T2IALIGN_API_KEYS if set; otherwise make a user and an admin key for this run (returned)."""
    if os.environ.get("T2IALIGN_API_KEYS"):
        return None
    user, admin = f"dev-user-{secrets.token_hex(8)}", f"dev-admin-{secrets.token_hex(8)}"
    os.environ["T2IALIGN_API_KEYS"] = f"{user}:user,{admin}:admin"
    return user, admin


def serve_args(args: argparse.Namespace) -> ServeArgs:
    from t2ialign.serving.app import ServeArgs

    return ServeArgs.model_validate(
        {
            "reward": {
                "config": {"store_url": args.store, "clip": args.clip or str(DEFAULT_CLIP), "model": args.reward}
            },
            "generator": {
                "config": {
                    "backend": args.backend,
                    "model": args.model,
                    "clip": args.clip if args.backend == "toy" else None,  # None: <model>/../clip
                    "store_url": args.store,
                    "default_num_inference_steps": args.num_inference_steps,
                }
            },
            "coordinator": {"config": {"store_url": args.store, "model": args.model}},
            "trainer": {  # fine-tunes the toy pipeline; with --backend sd it keeps the toy defaults
                "config": {"store_url": args.store, "clip": args.clip or str(DEFAULT_CLIP)}
                | ({"model": args.model} if args.backend == "toy" else {})
            },
            "http_host": args.host,
            "http_port": args.http_port,
            "grpc_port": args.grpc_port,
        }
    )


def cmd_serve(args: argparse.Namespace) -> None:
    # 1. Check inputs before starting anything.
    cfg = serve_args(args)
    folders = (("model", cfg.generator.config.model), ("clip", cfg.reward.config.clip), ("reward", args.reward))
    for name, value in folders:
        if not value.startswith("store:") and not Path(value).is_dir():
            raise FileNotFoundError(
                f"--{name} {value} does not exist; build the toy weights with `t2ialign pretrain clip|generator|"
                "reward`, or pass a folder or store:<prefix>"
            )
    keys = _api_keys()
    # 2. Ray (the gRPC message limit must be in the environment before the proxy starts), then Serve.
    import ray
    from ray import serve

    from t2ialign.serving.app import set_grpc_message_limit, start_all

    set_grpc_message_limit()
    ray.init(address=args.address, include_dashboard=False, configure_logging=False)
    try:
        endpoints = start_all(cfg)
        # 3. Say where everything is.
        print("t2ialign serving:")
        for name, where in endpoints.items():
            print(f"  {name:22s} {where}")
        if keys:
            print(f"  API keys (this run)    user: {keys[0]}  admin: {keys[1]}  (set T2IALIGN_API_KEYS to choose)")
        key = keys[0] if keys else "<your key>"
        base = f"http://{cfg.http_host}:{cfg.http_port}"
        print(
            f"  try: curl -s {base}/v1/generate -H 'Authorization: Bearer {key}' "
            '-H \'Content-Type: application/json\' -d \'{"prompt": "a red circle", "num_images": 2, "best_of_n": 8}\''
        )
        sys.stdout.flush()
        if args.check:
            _check(base, f"grpc://{cfg.http_host}:{cfg.grpc_port}", key)
            return
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
        ray.shutdown()


def _check(http: str, grpc_url: str, key: str) -> None:
    from t2ialign.client import GeneratorClient, RewardClient

    out = GeneratorClient(http, key).generate("a red circle", num_images=2, best_of_n=4, return_images=True)
    scores = RewardClient(grpc_url, key).score("a red circle", [x["png"] for x in out["images"]])
    print(f"check: generated {[x['key'] for x in out['images']]} (unet {out['unet_version']}), scores {scores}")
