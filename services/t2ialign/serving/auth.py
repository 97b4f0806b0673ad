"""API keys with scopes, from T2IALIGN_API_KEYS="key:scope,key:scope" (scope `user` or `admin`).

`user` may score, generate and read model info; `admin` may also swap models. The gateway checks
`Authorization: Bearer <key>` headers; the gRPC servicers check the same value in `authorization` metadata.
With no keys configured every request is refused (fail closed): `t2ialign serve` makes a dev key instead.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from t2ialign.serving.errors import PermissionDenied, Unauthenticated

API_KEYS_ENV = "T2IALIGN_API_KEYS"
SCOPES = ("user", "admin")  # each scope includes the ones before it


@dataclass(frozen=True)
class ApiKeys:
    keys: dict[str, str]  # key -> scope

    @classmethod
    def parse(cls, spec: str) -> ApiKeys:
        """Parse "key:scope,..."; fails fast with the offending entry."""
        keys: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            key, sep, scope = entry.rpartition(":")
            if not sep or not key:
                raise ValueError(f"{API_KEYS_ENV} entry {entry!r} is not key:scope; e.g. 'k3y:user,adm1n:admin'")
            if scope not in SCOPES:
                raise ValueError(f"{API_KEYS_ENV} entry {entry!r} has scope {scope!r}; valid: {', '.join(SCOPES)}")
            if len(key) < 8:
                raise ValueError(f"{API_KEYS_ENV}: key {key[:2]}… is shorter than 8 characters; use a longer key")
            keys[key] = scope
        return cls(keys)

    @classmethod
    def from_env(cls) -> ApiKeys:
        return cls.parse(os.environ.get(API_KEYS_ENV, ""))

    def check(self, authorization: str | None, scope: str = "user") -> str:
        """Return the caller's scope for an `Authorization` value ("Bearer <key>"), or raise."""
        if not self.keys:
            raise Unauthenticated(f"no API keys are configured on the server; set {API_KEYS_ENV}=key:scope")
        if not authorization:
            raise Unauthenticated("missing API key; send the header 'Authorization: Bearer <key>'")
        kind, _, key = authorization.strip().partition(" ")
        if kind.lower() != "bearer" or not key.strip():
            raise Unauthenticated("malformed Authorization; use 'Authorization: Bearer <key>'")
        key = key.strip()
        granted = next((s for k, s in self.keys.items() if hmac.compare_digest(k.encode(), key.encode())), None)
        if granted is None:
            raise Unauthenticated("unknown API key; check the key or ask an admin for one")
        if SCOPES.index(granted) < SCOPES.index(scope):
            raise PermissionDenied(f"this API key has scope {granted!r}; the call needs {scope!r}")
        return granted


def metadata_authorization(metadata: list[tuple[str, str]] | None) -> str | None:
    """The `authorization` value from gRPC invocation metadata (keys are lower-case on the wire)."""
    return next((v for k, v in metadata or [] if k.lower() == "authorization"), None)
