"""Translate ServiceError to a gRPC status on a servicer context (plain grpc or Ray Serve's gRPC context)."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from t2ialign.serving.errors import ServiceError

log = logging.getLogger("t2ialign.serving")


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
