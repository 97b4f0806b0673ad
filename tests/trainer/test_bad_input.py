"""Bad requests get INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION saying what to change, and start nothing."""

from __future__ import annotations

import grpc
import pytest

from t2ialign.v1 import trainer_pb2

from ..serving.conftest import USER_KEY

FT = trainer_pb2.StartFinetuneRequest
RW = trainer_pb2.StartRewardTrainingRequest
CASES = {
    "unknown round": (FT(round_ids=["nope"]), "NOT_FOUND", "round 'nope' has no images"),
    "bad round id": (FT(round_ids=["../x"]), "INVALID_ARGUMENT", "round id"),
    "no rounds": (FT(), "INVALID_ARGUMENT", "round_ids has 0 entries"),
    "repeated round": (FT(round_ids=["r1", "r1"]), "INVALID_ARGUMENT", "repeats"),
    "too many steps": (FT(round_ids=["r1"], num_train_steps=2_000_000), "INVALID_ARGUMENT", "num_train_steps"),
    "nan learning rate": (FT(round_ids=["r1"], learning_rate=float("nan")), "INVALID_ARGUMENT", "finite"),
    "learning rate > 1": (FT(round_ids=["r1"], learning_rate=2.0), "INVALID_ARGUMENT", "learning_rate"),
    "negative beta": (FT(round_ids=["r1"], pretrain_loss_weight=-1), "INVALID_ARGUMENT", "pretrain_loss_weight"),
    "inf guidance": (FT(round_ids=["r1"], guidance_scale=float("inf")), "INVALID_ARGUMENT", "guidance_scale"),
    "unknown reward": (FT(round_ids=["r1"], reward_version="rw-none"), "NOT_FOUND", "rw-none"),
    "unknown base": (FT(round_ids=["r1"], base_unet_version="unet-none"), "NOT_FOUND", "unet-none"),
    "uneven shards": (FT(round_ids=["r1"], batch_size=6, num_workers=2), "INVALID_ARGUMENT", "divide evenly"),
    "more workers than the cluster": (
        FT(round_ids=["r1"], batch_size=12, num_workers=3),
        "FAILED_PRECONDITION",
        "whole cluster",
    ),
    "unknown recipe": (FT(round_ids=["r1"], recipe="fastest"), "INVALID_ARGUMENT", "recipe 'fastest' is unknown"),
    "round without labels": (RW(round_ids=["r2"]), "INVALID_ARGUMENT", "has no labels"),
    "unknown init reward": (RW(round_ids=["r1"], init_reward_version="rw-none"), "NOT_FOUND", "rw-none"),
    "val fraction": (RW(round_ids=["r1"], val_fraction=0.9), "INVALID_ARGUMENT", "val_fraction"),
    "epochs": (RW(round_ids=["r1"], num_epochs=5000), "INVALID_ARGUMENT", "num_epochs"),
}


def _jobs(trainer) -> int:
    return len(trainer.stub.ListJobs(trainer_pb2.ListJobsRequest(page_size=1000), metadata=trainer.metadata()).jobs)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_start_requests_are_refused(trainer, case: str) -> None:
    request, code, words = CASES[case]
    before = _jobs(trainer)
    start = trainer.stub.StartFinetune if isinstance(request, FT) else trainer.stub.StartRewardTraining
    with pytest.raises(grpc.RpcError) as err:
        start(request, metadata=trainer.metadata())
    assert err.value.code() == getattr(grpc.StatusCode, code), err.value.details()
    assert words in err.value.details()
    assert _jobs(trainer) == before  # nothing started


def test_unknown_job_and_scopes(trainer) -> None:
    with pytest.raises(grpc.RpcError) as err:
        trainer.get("finetune-00000000T000000-deadbeef")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        trainer.stub.CancelJob(trainer_pb2.CancelJobRequest(job_id="no/such"), metadata=trainer.metadata())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for key, code in (
        (USER_KEY, grpc.StatusCode.PERMISSION_DENIED),
        ("wrong-key-0000", grpc.StatusCode.UNAUTHENTICATED),
    ):
        with pytest.raises(grpc.RpcError) as err:
            trainer.stub.ListJobs(trainer_pb2.ListJobsRequest(), metadata=trainer.metadata(key))
        assert err.value.code() == code
    with pytest.raises(grpc.RpcError) as err:
        trainer.stub.ListJobs(trainer_pb2.ListJobsRequest(page_token="zz"), metadata=trainer.metadata())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
