"""The servicer decorator without a server: API-key scopes, ServiceError -> status code, INTERNAL for anything
else, an empty response on error, and the signature Ray Serve inspects for `grpc_context`."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import grpc
import pytest

from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import InvalidArgument
from t2ialign.serving.grpc_errors import grpc_method
from t2ialign.v1 import reward_pb2

USER, ADMIN = "user-key-0123", "admin-key-0123"


class Context:
    """The part of a grpc.ServicerContext a servicer uses (Ray Serve's gRPC context has the same methods)."""

    def __init__(self, key: str | None):
        self.metadata = [("authorization", f"Bearer {key}")] if key else []
        self.code: grpc.StatusCode | None = None
        self.details = ""

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details


class Servicer:
    api_keys = ApiKeys.parse(f"{USER}:user,{ADMIN}:admin")

    @grpc_method(reward_pb2.ScoreResponse)
    async def Score(self, request: Any, grpc_context: Any = None) -> reward_pb2.ScoreResponse:
        if request == "bad":
            raise InvalidArgument("prompt is empty; give 1..1000 characters of text")
        if request == "bug":
            raise KeyError("oops")
        return reward_pb2.ScoreResponse(scores=[1.5], reward_version="rw")

    @grpc_method(reward_pb2.RankResponse, scope="admin")
    async def Rank(self, request: Any, grpc_context: Any = None) -> reward_pb2.RankResponse:
        return reward_pb2.RankResponse(reward_version="rw")


def call(method: str, request: Any, key: str | None) -> tuple[Any, Context]:
    context = Context(key)
    return asyncio.run(getattr(Servicer(), method)(request, context)), context


def test_allowed_call_answers_and_sets_no_status() -> None:
    response, context = call("Score", "ok", USER)
    assert list(response.scores) == [1.5] and context.code is None
    response, context = call("Rank", "ok", ADMIN)
    assert response.reward_version == "rw" and context.code is None


@pytest.mark.parametrize(
    "method, request_, key, code, details",
    [
        ("Score", "ok", None, grpc.StatusCode.UNAUTHENTICATED, "missing API key"),
        ("Score", "ok", "nope-nope-nope", grpc.StatusCode.UNAUTHENTICATED, "unknown API key"),
        ("Rank", "ok", USER, grpc.StatusCode.PERMISSION_DENIED, "needs 'admin'"),
        ("Score", "bad", USER, grpc.StatusCode.INVALID_ARGUMENT, "prompt is empty"),
        ("Score", "bug", USER, grpc.StatusCode.INTERNAL, "internal error (KeyError)"),
    ],
)
def test_errors_become_a_status_and_an_empty_response(method, request_, key, code, details) -> None:
    response, context = call(method, request_, key)
    assert context.code == code and details in context.details
    assert response.ByteSize() == 0  # the empty message of the method's response type
    assert type(response).__name__ == f"{method}Response"


def test_plain_python_calls_raise_and_the_signature_is_kept() -> None:
    with pytest.raises(Exception, match="missing API key"):
        asyncio.run(Servicer().Score("ok"))  # no context: the caller sees the error itself
    assert "grpc_context" in inspect.signature(Servicer.Score).parameters
    assert inspect.iscoroutinefunction(Servicer.Score)
