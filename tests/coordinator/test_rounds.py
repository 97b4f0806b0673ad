"""Rounds through the services on a real Ray Serve: generation through the generator's gRPC API, labels from
people over REST and gRPC, and the coordinator killed twice mid-round: the round carries on, and no acknowledged
label is lost or doubled. Bad input to the feedback and admin endpoints changes nothing."""

from __future__ import annotations

import json
import time

import grpc
import httpx
import pytest
import ray

from t2ialign.store import pointer_history
from t2ialign.v1 import coordinator_pb2

from .conftest import ADMIN_KEY, USER_KEY
from .test_promotion import coordinator

PROMPTS = ["a red circle", "two blue squares", "a triangle in the snow", "three crosses", "a green ring", "a star"]


def kill_coordinator() -> None:
    """Kill the coordinator's replica actor; the Serve controller starts a new one."""
    names = [a for a in ray.util.list_named_actors(all_namespaces=True) if "CoordinatorDeployment" in a["name"]]
    assert len(names) == 1, names
    ray.kill(ray.get_actor(names[0]["name"], namespace=names[0]["namespace"]), no_restart=True)


def get_round(cluster, round_id: str, timeout_s: float = 120) -> coordinator_pb2.Round:
    """GetRound, retried while the coordinator restarts."""
    stub, md = coordinator(cluster.channel)
    t0 = time.time()
    while True:
        try:
            return stub.GetRound(coordinator_pb2.GetRoundRequest(round_id=round_id), metadata=md, timeout=30).round
        except grpc.RpcError:
            if time.time() - t0 > timeout_s:
                raise
            time.sleep(0.5)


def wait_round(cluster, round_id: str, until, timeout_s: float = 300) -> coordinator_pb2.Round:
    t0 = time.time()
    while not until(r := get_round(cluster, round_id)):
        assert time.time() - t0 < timeout_s, f"round stuck: {r}"
        time.sleep(0.3)
    return r


def labels(keys: list[str], start: int, stop: int) -> list[dict]:
    return [
        {"label_id": f"p-{i}", "image_key": keys[i], "choice": "good" if i % 2 else "bad", "rater_id": "t"}
        for i in range(start, stop)
    ]


def post_feedback(cluster, round_id: str, body_labels: list[dict], timeout_s: float = 120) -> dict:
    """POST /v1/feedback, retried while the coordinator restarts (an unacknowledged label is sent again)."""
    t0 = time.time()
    while True:
        r = httpx.post(
            f"{cluster.http}/v1/feedback",
            json={"round_id": round_id, "labels": body_labels},
            headers={"Authorization": f"Bearer {USER_KEY}"},
            timeout=60,
        )
        if r.status_code == 200 or time.time() - t0 > timeout_s or r.status_code < 500:
            return r.json() | {"status": r.status_code}
        time.sleep(0.5)


def test_round_carries_on_after_restarts_and_keeps_every_acknowledged_label(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    req = coordinator_pb2.StartRoundRequest(
        prompts=PROMPTS, num_images=4, seed=3, raters="people", labels_to_train=24, round_id="r-restart"
    )
    r = stub.StartRound(req, metadata=md, timeout=60).round
    assert r.state == coordinator_pb2.ROUND_STATE_GENERATING and r.num_prompts == 6 and r.labels_to_train == 24
    again = stub.StartRound(req, metadata=md, timeout=60).round  # idempotent by round_id
    assert again.created_at == r.created_at
    # 1. Killed mid-generation: the new replica finishes the prompts that are left.
    wait_round(cluster, "r-restart", lambda x: x.num_generated >= 4)
    kill_coordinator()
    r = wait_round(cluster, "r-restart", lambda x: x.state == coordinator_pb2.ROUND_STATE_LABELING)
    assert r.num_generated == 24
    store = cluster.store
    generated = store.list("rounds/r-restart/generated/")
    assert len(generated) == 6
    keys = [k for g in generated for k in json.loads(store.get_bytes(g))["keys"]]
    assert len(set(keys)) == 24 and all(store.exists(k) for k in keys)
    # 2. Labels acknowledged before a kill survive it; re-sending them is harmless.
    assert post_feedback(cluster, "r-restart", labels(keys, 0, 10))["num_accepted"] == 10
    kill_coordinator()
    out = post_feedback(cluster, "r-restart", labels(keys, 0, 15))
    assert out["status"] == 200 and out["num_duplicates"] >= 10 and out["num_labels"] == 15, out
    assert len(store.list("feedback/r-restart/")) == 15
    assert get_round(cluster, "r-restart").state == coordinator_pb2.ROUND_STATE_LABELING  # 15 < 24
    # 3. The last labels over gRPC; with 24 stored the round moves on to training.
    grpc_labels = [coordinator_pb2.Label(**x) for x in labels(keys, 15, 24)]
    res = stub.SubmitFeedback(
        coordinator_pb2.SubmitFeedbackRequest(round_id="r-restart", labels=grpc_labels), metadata=md, timeout=60
    )
    assert (res.num_accepted, res.num_duplicates, res.num_labels) == (9, 0, 24)
    r = wait_round(cluster, "r-restart", lambda x: x.state != coordinator_pb2.ROUND_STATE_LABELING)
    assert r.num_labels == 24 and len(store.list("feedback/r-restart/")) == 24


def test_bad_input_to_feedback_and_admin_endpoints_changes_nothing(cluster) -> None:
    stub, md = coordinator(cluster.channel)
    req = coordinator_pb2.StartRoundRequest(prompts=["a red circle"], num_images=2, raters="people", round_id="r-bad")
    stub.StartRound(req, metadata=md, timeout=60)
    wait_round(cluster, "r-bad", lambda x: x.state == coordinator_pb2.ROUND_STATE_LABELING)
    key = json.loads(cluster.store.get_bytes("rounds/r-bad/generated/000000.json"))["keys"][0]

    def snapshot() -> tuple:  # other tests' rounds may still advance on the shared cluster: compare r-bad's files
        round_ids = {k.split("/")[1] for k in cluster.store.list("rounds/")}  # and that no round was added
        return (
            cluster.store.list("feedback/r-bad/"),
            pointer_history(cluster.store, "unet-serving"),
            cluster.store.list("rounds/r-bad/"),
            round_ids,
        )

    before = snapshot()
    user, admin = {"Authorization": f"Bearer {USER_KEY}"}, {"Authorization": f"Bearer {ADMIN_KEY}"}
    good = {"label_id": "x1", "image_key": key, "choice": "good"}
    rest = [
        ("post", "/v1/feedback", user, {"round_id": "nope", "labels": [good]}, 404),
        ("post", "/v1/feedback", user, {"round_id": "r-bad", "labels": [{**good, "choice": "maybe"}]}, 422),
        ("post", "/v1/feedback", user, {"round_id": "r-bad", "labels": [{**good, "rating": 3}]}, 422),
        (
            "post",
            "/v1/feedback",
            user,
            {"round_id": "r-bad", "labels": [{**good, "image_key": "images/r-bad/no.png"}]},
            404,
        ),
        ("post", "/v1/feedback", user, {"round_id": "r-bad", "labels": [{**good, "label_id": "../up"}]}, 400),
        ("post", "/v1/feedback", user, {"round_id": "r-bad", "labels": []}, 422),
        ("post", "/v1/feedback", {}, {"round_id": "r-bad", "labels": [good]}, 401),
        ("get", "/v1/admin/rounds/nope", admin, None, 404),
        ("get", "/v1/admin/rounds/r-bad", user, None, 403),
        ("get", "/v1/admin/status", {"Authorization": "Bearer wrong-key-123"}, None, 401),
        ("post", "/v1/admin/rounds", user, {"prompts": ["a red circle"]}, 403),
        ("post", "/v1/admin/rounds", admin, {"prompts": ["a red circle"], "num_images": 99}, 422),
        ("post", "/v1/admin/rounds", admin, {"prompts": [""], "round_id": "r-empty"}, 400),
        ("post", "/v1/admin/promote", admin, {"version": "missing", "skip_gate": True}, 404),
        ("post", "/v1/admin/promote", admin, {"version": "unet-b", "kind": "vae"}, 422),
        ("post", "/v1/admin/promote", user, {"version": "unet-b", "skip_gate": True}, 403),
        ("post", "/v1/admin/rollback", admin, {"version": "never-served"}, 404),
    ]
    for method, path, headers, body, status in rest:
        r = httpx.request(method, f"{cluster.http}{path}", json=body, headers=headers, timeout=60)
        assert r.status_code == status, (path, body, r.status_code, r.text)
        assert r.json()["error"]["message"], r.text
    bad_grpc = [
        (
            stub.SubmitFeedback,
            coordinator_pb2.SubmitFeedbackRequest(
                round_id="r-bad", labels=[coordinator_pb2.Label(label_id="x2", image_key=key, choice="maybe")]
            ),
            md,
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.SubmitFeedback,
            coordinator_pb2.SubmitFeedbackRequest(
                round_id="nope", labels=[coordinator_pb2.Label(label_id="x2", image_key=key)]
            ),
            md,
            grpc.StatusCode.NOT_FOUND,
        ),
        (stub.GetRound, coordinator_pb2.GetRoundRequest(round_id="nope"), md, grpc.StatusCode.NOT_FOUND),
        (
            stub.StartRound,
            coordinator_pb2.StartRoundRequest(prompts=["a"]),
            coordinator(cluster.channel, USER_KEY)[1],
            grpc.StatusCode.PERMISSION_DENIED,
        ),
        (
            stub.StartRound,
            coordinator_pb2.StartRoundRequest(prompts=["a"], raters="robots"),
            md,
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.Rollback,
            coordinator_pb2.RollbackRequest(kind=1, version="never-served"),
            coordinator(cluster.channel, USER_KEY)[1],
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]
    for method, request, metadata, code in bad_grpc:
        with pytest.raises(grpc.RpcError) as e:
            method(request, metadata=metadata, timeout=60)
        assert e.value.code() == code and e.value.details(), (request, e.value.details())
    assert snapshot() == before and not cluster.store.list("rounds/r-empty/")
    assert not cluster.store.list("feedback/nope/")
    ok = httpx.post(
        f"{cluster.http}/v1/feedback", json={"round_id": "r-bad", "labels": [good]}, headers=user, timeout=60
    )
    assert ok.status_code == 200 and ok.json()["num_accepted"] == 1  # and it still serves
