"""A tiny round end to end through the real services: the coordinator generates through the generator's gRPC
API, the simulated raters label, the trainer trains r_phi and fine-tunes the UNet, the gate evaluates the
candidate on the evaluation protocol, and the candidate is promoted on both generator replicas."""

from __future__ import annotations

import json

from t2ialign.store import get_pointer
from t2ialign.v1 import coordinator_pb2

from .test_promotion import coordinator
from .test_rounds import wait_round

TERMINAL = {
    coordinator_pb2.ROUND_STATE_PROMOTED,
    coordinator_pb2.ROUND_STATE_REJECTED,
    coordinator_pb2.ROUND_STATE_FAILED,
}


def test_a_tiny_round_from_generation_to_promotion(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    req = coordinator_pb2.StartRoundRequest(
        prompts=["a red circle", "two squares"],
        num_images=4,
        seed=5,
        raters="simulated",
        auto_promote=True,
        round_id="r-full",
    )
    stub.StartRound(req, metadata=md, timeout=60)
    r = wait_round(cluster, "r-full", lambda x: x.state in TERMINAL, timeout_s=900)
    assert r.state == coordinator_pb2.ROUND_STATE_PROMOTED, r.error
    assert r.num_generated == 8 and r.num_labels == 8 and len(r.job_ids) == 2
    assert (
        r.candidate_reward.version and r.candidate_unet.version and r.candidate_unet.version != r.unet_version.version
    )
    assert {"alignment_gain", "panel_win", "fidelity_ratio", "diversity_ratio"} <= set(r.metrics)
    assert len(r.replicas) == 2 and all(x.version == r.candidate_unet.version and not x.error for x in r.replicas)
    assert get_pointer(cluster.store, "unet-serving") == r.candidate_unet.version
    assert get_pointer(cluster.store, "reward-serving") == r.candidate_reward.version
    gate = json.loads(cluster.store.get_bytes(f"models/unet/{r.candidate_unet.version}/gate.json"))
    assert gate["passed"] and gate["round_id"] == "r-full"
