"""gRPC servicer methods: the API-key check and ServiceError -> gRPC status, on a servicer context (plain grpc or
Ray Serve's gRPC context), as one decorator."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from t2ialign.serving.auth import metadata_authorization
from t2ialign.serving.errors import ServiceError

log = logging.getLogger("t2ialign.serving")
Response = TypeVar("Response")
Servicer = Callable[[Any, Any, Any], Awaitable[Any]]  # async (self, request, grpc_context) -> response


def set_error(context: Any, error: Exception) -> None:
    """Set code and details; unexpected exceptions become INTERNAL with the type name (and are logged)."""
    if context is None:  # called as a plain Python method, not through gRPC: let the caller see the error
        raise error
    if isinstance(error, ServiceError):
        code, details = grpc.StatusCode[error.grpc_code], error.message
    else:
        log.exception("internal error", exc_info=error)
        code, details = grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__}); see the server log"
    context.set_code(code)
    context.set_details(details[:4096])


def grpc_method(empty: Callable[[], Response], scope: str = "user") -> Callable[[Servicer], Servicer]:
    """Decorate an async servicer method `(self, request, grpc_context=None)` of a class with `api_keys`
    (serving.auth.ApiKeys): the caller's key must grant `scope`; any exception sets the call's status
    (`set_error`) and the method answers `empty()`, the response message with no fields."""

    def decorate(method: Servicer) -> Servicer:
        @functools.wraps(method)  # keeps the signature: Ray Serve passes grpc_context only if it is a parameter
        async def servicer(self: Any, request: Any, grpc_context: Any = None) -> Response:
            try:
                metadata = grpc_context.invocation_metadata() if grpc_context else None
                self.api_keys.check(metadata_authorization(metadata), scope)
                return await method(self, request, grpc_context)
            except Exception as e:
                set_error(grpc_context, e)
                return empty()

        return servicer

    return decorate
