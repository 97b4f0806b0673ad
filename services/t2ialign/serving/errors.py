"""Service errors with their gRPC status and HTTP code (docs/ARCHITECTURE.md, "Conventions": errors say what to change).

Logic code raises these; the gRPC servicers and the gateway translate them. Anything else is INTERNAL / 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    grpc_code = "INTERNAL"  # name of a grpc.StatusCode member
    http_status = 500

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidArgument(ServiceError, ValueError):
    grpc_code, http_status = "INVALID_ARGUMENT", 400


class NotFound(ServiceError, LookupError):
    grpc_code, http_status = "NOT_FOUND", 404


class Unauthenticated(ServiceError):
    grpc_code, http_status = "UNAUTHENTICATED", 401


class PermissionDenied(ServiceError):
    grpc_code, http_status = "PERMISSION_DENIED", 403


class FailedPrecondition(ServiceError):
    grpc_code, http_status = "FAILED_PRECONDITION", 409


class ResourceExhausted(ServiceError):
    grpc_code, http_status = "RESOURCE_EXHAUSTED", 429


class Unavailable(ServiceError):
    grpc_code, http_status = "UNAVAILABLE", 503


def check(condition: bool, message: str) -> None:
    """Raise InvalidArgument(message) unless condition (never `assert` on user input: it vanishes under -O)."""
    if not condition:
        raise InvalidArgument(message)
