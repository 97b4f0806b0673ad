"""API keys with scopes, from T2IALIGN_API_KEYS="key:scope,key:scope" (scope `user`, `admin` or `rater`).

`user` may score, generate and read model info; `admin` may also swap models. `rater` (a person labeling
images, docs/LABELING.md) may only fetch its labeling queue and images and submit labels; give it a name as
`key:rater@alice`, else its identity is `rater-<first 10 hex of sha256(key)>`. The identity is stored with
each of its labels; it comes from the key, never from the client. The gateway checks
`Authorization: Bearer <key>` headers; the gRPC servicers check the same value in `authorization` metadata.
With no keys configured every request is refused (fail closed): `t2ialign serve` makes a dev key instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from t2ialign.serving.errors import PermissionDenied, Unauthenticated

API_KEYS_ENV = "T2IALIGN_API_KEYS"
SCOPES = ("user", "admin", "rater")
# the scopes a key may hold to pass a check for each scope: admin includes user and rater; rater is apart
GRANTS = {
    "user": ("user", "admin"),
    "admin": ("admin",),
    "rater": ("rater", "admin"),
    "feedback": ("user", "admin", "rater"),  # POST /v1/feedback: a rater's labels carry the key's identity
}
_RATER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def key_identity(key: str, scope: str) -> str:
    """A stable pseudonymous identity for a key without a name (never the key itself)."""
    return f"{scope}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Caller:
    scope: str
    identity: str  # the rater's name (key:rater@name) or key_identity()


@dataclass(frozen=True)
class ApiKeys:
    keys: dict[str, str]  # key -> scope
    names: dict[str, str] | None = None  # key -> identity, for keys that were given one (key:rater@alice)

    @classmethod
    def parse(cls, spec: str) -> ApiKeys:
        """Parse "key:scope,..."; fails fast with the offending entry."""
        keys: dict[str, str] = {}
        names: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            key, sep, scope = entry.rpartition(":")
            if not sep or not key:
                raise ValueError(f"{API_KEYS_ENV} entry {entry!r} is not key:scope; e.g. 'k3y:user,adm1n:admin'")
            scope, at, name = scope.partition("@")
            if at:
                if scope != "rater" or not _RATER_NAME.match(name):
                    raise ValueError(
                        f"{API_KEYS_ENV} entry {entry!r}: only rater keys take a name, 1..64 of [A-Za-z0-9._-] "
                        "(e.g. 'k3y:rater@alice')"
                    )
                names[key] = name
            if scope not in SCOPES:
                raise ValueError(f"{API_KEYS_ENV} entry {entry!r} has scope {scope!r}; valid: {', '.join(SCOPES)}")
            if len(key) < 8:
                raise ValueError(f"{API_KEYS_ENV}: key {key[:2]}… is shorter than 8 characters; use a longer key")
            keys[key] = scope
        return cls(keys, names)

    @classmethod
    def from_env(cls) -> ApiKeys:
        return cls.parse(os.environ.get(API_KEYS_ENV, ""))

    def check(self, authorization: str | None, scope: str = "user") -> str:
        """Return the caller's scope for an `Authorization` value ("Bearer <key>"), or raise."""
        return self.caller(authorization, scope).scope

    def caller(self, authorization: str | None, scope: str = "user") -> Caller:
        """The caller's scope and identity for an `Authorization` value, or raise."""
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
        if granted not in GRANTS[scope]:
            raise PermissionDenied(
                f"this API key has scope {granted!r}; the call needs {' or '.join(repr(s) for s in GRANTS[scope])}"
            )
        return Caller(granted, (self.names or {}).get(key) or key_identity(key, granted))


def metadata_authorization(metadata: list[tuple[str, str]] | None) -> str | None:
    """The `authorization` value from gRPC invocation metadata (keys are lower-case on the wire)."""
    return next((v for k, v in metadata or [] if k.lower() == "authorization"), None)
