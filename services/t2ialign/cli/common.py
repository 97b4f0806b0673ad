"""Helpers shared by the command modules (no heavy imports here)."""

from __future__ import annotations

import argparse
import json

Subparsers = argparse._SubParsersAction  # what each command module's register() receives
# models.toy_pipeline.SAMPLERS, named here to keep torch out of startup
SAMPLERS = ("euler-a", "dpm++", "dpm++-sde", "ddim")


def limit_threads() -> None:
    """At most 4 intra-op threads: more rarely helps these small models and starves other processes."""
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 4))


def print_result(result: object, as_json: bool) -> None:
    """One JSON line with --json (for scripts), indented JSON otherwise."""
    print(json.dumps(result) if as_json else json.dumps(result, indent=2))
