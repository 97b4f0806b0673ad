"""`t2ialign demo --smoke --json` end to end, as `make demo` runs it: a real local Ray Serve with every
application, one tiny round through the coordinator (generation, simulated raters, the trainer, the gate, a
promotion on both generator replicas under a trickle of Generate calls), the report, and a second run that
starts from the first one's promoted UNet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2ialign.store import LocalStore, get_pointer

from .serving.conftest import free_port

SIDE_KEYS = {"alignment", "seen", "unseen", "fidelity", "diversity"}


def _demo(store: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "t2ialign.cli", "demo", "--smoke", "--json", "--store", str(store), "--out", str(out)]
    cmd += ["--http-port", str(free_port()), "--grpc-port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if k != "T2IALIGN_API_KEYS"}
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "3/5 one round through the coordinator" in run.stdout  # progress is shown
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(3000)
def test_demo_runs_a_round_through_the_services_and_a_second_one_on_top(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = _demo(store, tmp_path / "out1")
    assert {"before", "after", "panel", "promoted", "unet_version_before", "unet_version_after"} <= set(first)
    assert {"failed_requests_during_swap", "seconds"} <= set(first)
    assert set(first["before"]) >= SIDE_KEYS and set(first["after"]) >= SIDE_KEYS
    assert set(first["panel"]) == {"win", "lose", "tie"}
    assert first["promoted"] and first["unet_version_after"] != first["unet_version_before"]
    assert first["failed_requests_during_swap"] == 0
    swap = first["swap"]["versions_in_order"]
    assert swap and swap[-1][0] == first["unet_version_after"]  # after the swap only the new version answers
    assert {v for v, _ in swap} <= {first["unet_version_before"], first["unet_version_after"]}
    assert all(r["version"] == first["unet_version_after"] and not r["error"] for r in first["replicas"])
    assert len(first["replicas"]) == 2
    for name in ("report.html", "before_after.png", "summary.json"):
        assert (tmp_path / "out1" / name).stat().st_size > 0
    assert first["unet_version_after"] in (tmp_path / "out1" / "report.html").read_text()
    # the promoted UNet stays serving; the next demo runs one more round on top of it
    assert get_pointer(LocalStore(store), "unet-serving") == first["unet_version_after"]
    second = _demo(store, tmp_path / "out2")
    assert second["unet_version_before"] == first["unet_version_after"]
    assert second["round_id"].startswith("demo-") and second["round_id"] != first["round_id"]


def test_the_grid_prompts_are_toy_prompts_over_seen_and_unseen_objects() -> None:
    from t2ialign.demo.run import GRID_PROMPTS
    from t2ialign.toyworld.grammar import SEEN_OBJECTS, UNSEEN_OBJECTS, parse_prompt

    objects = {parse_prompt(p).object for p in GRID_PROMPTS}  # raises on a prompt the oracle cannot judge
    assert objects & set(SEEN_OBJECTS) and objects & set(UNSEEN_OBJECTS)
