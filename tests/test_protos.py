"""The gRPC contracts: committed stubs match a fresh generation, and `buf lint` passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from t2ialign.common import protogen

REPO_ROOT = Path(__file__).resolve().parents[1]
BUF = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "buf"


def test_stubs_match_protos() -> None:
    stale = protogen.check()
    assert stale == [], f"stale stubs {stale}: run `python -m t2ialign.common.protogen` and commit the result"


def test_stubs_import() -> None:
    from t2ialign.v1 import coordinator_pb2, coordinator_pb2_grpc, trainer_pb2, trainer_pb2_grpc

    assert trainer_pb2_grpc.TrainerServiceStub and coordinator_pb2_grpc.CoordinatorServiceStub
    req = trainer_pb2.StartFinetuneRequest(round_ids=["r1"], guidance_scale=7.5, seed=3)
    assert trainer_pb2.StartFinetuneRequest.FromString(req.SerializeToString()) == req
    assert not req.HasField("pretrain_loss_weight")  # optional: unset means "recipe default"
    assert req.HasField("guidance_scale") and req.seed == 3
    assert coordinator_pb2.StartRoundRequest(prompts=["a red cube"], num_images=2).num_images == 2


@pytest.mark.skipif(
    not BUF.exists(), reason=f"buf not installed at {BUF}; run `npm install --prefix .tools @bufbuild/buf`"
)
def test_buf_lint() -> None:
    result = subprocess.run([str(BUF), "lint", "proto"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"buf lint failed:\n{result.stdout}{result.stderr}"
