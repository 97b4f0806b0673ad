"""Promotion and rollback through the coordinator's gRPC API on a real Ray Serve with two generator replicas,
under a steady stream of Generate calls: no call fails, each answer comes from the old or the new version and,
once Promote returns, only from the new one; a checkpoint with one flipped byte is refused by every replica
while serving goes on; the pointer history records every move."""

from __future__ import annotations

import time

import grpc
import pytest

from t2ialign.client.stream import GenerateStream
from t2ialign.store import get_pointer, pointer_history
from t2ialign.v1 import common_pb2, coordinator_pb2, coordinator_pb2_grpc

from .conftest import ADMIN_KEY, FLIPPED, USER_KEY

UNET = common_pb2.MODEL_KIND_UNET


def coordinator(channel: grpc.Channel, key: str = ADMIN_KEY):
    stub = coordinator_pb2_grpc.CoordinatorServiceStub(channel)
    md = [("authorization", f"Bearer {key}"), ("application", "coordinator")]
    return stub, md


def test_promote_and_rollback_under_load(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    with GenerateStream(cluster.channel, USER_KEY, threads=2) as stream:
        stream.wait_calls(6)
        old = {c.version for c in stream.calls}
        t0 = time.perf_counter()
        r = stub.Promote(
            coordinator_pb2.PromoteRequest(kind=UNET, version="unet-a", skip_gate=True), metadata=md, timeout=300
        )
        t1 = time.perf_counter()
        stream.wait_calls(6)
        assert r.serving.version == "unet-a" and len({x.replica_id for x in r.replicas}) == 2
        assert all(x.version == "unet-a" and not x.error for x in r.replicas), r.replicas
        stub.Promote(
            coordinator_pb2.PromoteRequest(kind=UNET, version="unet-b", skip_gate=True), metadata=md, timeout=300
        )
        stream.wait_calls(4)
        t2 = time.perf_counter()
        back = stub.Rollback(coordinator_pb2.RollbackRequest(kind=UNET, reason="test"), metadata=md, timeout=300)
        t3 = time.perf_counter()
        stream.wait_calls(6)
    calls = stream.calls
    assert [c.error for c in calls if c.error] == []
    assert len(old) == 1 and old != {"unet-a"}
    assert {c.version for c in stream.between(t0, t1)} <= old | {"unet-a"}
    assert {c.version for c in stream.between(t1, t2)} <= {"unet-a", "unet-b"}
    after_promote = [c for c in calls if t1 <= c.start]
    assert after_promote and "unet-a" in {c.version for c in after_promote}
    assert back.serving.version == "unet-a" and back.previous.version == "unet-b"
    assert all(x.version == "unet-a" and not x.error for x in back.replicas)
    assert {c.version for c in stream.between(t3, float("inf"))} == {"unet-a"}
    history = pointer_history(cluster.store, "unet-serving")
    assert [e["version"] for e in history[-3:]] == ["unet-a", "unet-b", "unet-a"] and history[-1]["restores_seq"]
    assert history[0]["version"] == "toy-test-base"  # the base was entered before the first promotion
    base = stub.Rollback(coordinator_pb2.RollbackRequest(kind=UNET, version="toy-test-base"), metadata=md, timeout=300)
    assert base.serving.version == "toy-test-base" and all(x.version == "toy-test-base" for x in base.replicas)


def test_flipped_byte_is_refused_by_every_replica_and_serving_goes_on(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    before = get_pointer(cluster.store, "unet-serving")
    with GenerateStream(cluster.channel, USER_KEY, threads=2) as stream:
        stream.wait_calls(4)
        with pytest.raises(grpc.RpcError) as e:
            req = coordinator_pb2.PromoteRequest(kind=UNET, version=FLIPPED, skip_gate=True)
            stub.Promote(req, metadata=md, timeout=300)
        stream.wait_calls(4)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "every generator replica refused" in e.value.details() and e.value.details().count("sha256") == 2
    assert get_pointer(cluster.store, "unet-serving") == before
    assert [c.error for c in stream.calls if c.error] == []
    assert {c.version for c in stream.calls} == {before}
    status = stub.Status(coordinator_pb2.StatusRequest(), metadata=md, timeout=60)
    assert status.serving_unet.version == before


def test_promote_refuses_what_the_gate_never_passed_and_unknown_versions(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    before = pointer_history(cluster.store, "unet-serving")
    cases = [
        (coordinator_pb2.PromoteRequest(kind=UNET, version="unet-b"), md, grpc.StatusCode.FAILED_PRECONDITION),
        (coordinator_pb2.PromoteRequest(kind=UNET, version="nope", skip_gate=True), md, grpc.StatusCode.NOT_FOUND),
        (
            coordinator_pb2.PromoteRequest(kind=UNET, version="../x", skip_gate=True),
            md,
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (coordinator_pb2.PromoteRequest(version="unet-b", skip_gate=True), md, grpc.StatusCode.INVALID_ARGUMENT),
        (
            coordinator_pb2.PromoteRequest(kind=UNET, version="unet-b", skip_gate=True),
            coordinator(cluster.channel, USER_KEY)[1],
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]
    for req, metadata, code in cases:
        with pytest.raises(grpc.RpcError) as e:
            stub.Promote(req, metadata=metadata, timeout=60)
        assert e.value.code() == code, (req, e.value.details())
    with pytest.raises(grpc.RpcError) as e:
        stub.Rollback(coordinator_pb2.RollbackRequest(kind=UNET, version="never-served"), metadata=md, timeout=60)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert pointer_history(cluster.store, "unet-serving") == before
