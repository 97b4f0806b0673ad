"""The object-store interface (docs/ARCHITECTURE.md, "Storage"): write-once keys, two backends.

Every backend behaves the same: a key is written at most once (a second write raises
KeyExistsError, never overwrites), keys and metadata are validated identically up front, and
`list` returns sorted keys. A new version of anything gets a new key.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

MAX_KEY_BYTES = 1024  # S3's limit on an object key (UTF-8)
MAX_SEGMENT_BYTES = 255  # NAME_MAX of common filesystems, so LocalStore can hold every valid key
MAX_METADATA_BYTES = 2000  # S3 allows 2 KiB of user metadata in total; leave room for header names
_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class KeyExistsError(FileExistsError):
    """The key is already written; objects are never overwritten. Write a new key instead."""


class KeyNotFoundError(KeyError):
    """No object under this key."""

    def __str__(self) -> str:  # KeyError's default repr-quotes the message
        return str(self.args[0]) if self.args else "key not found"


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # the validated key
    size: int  # payload size in bytes
    content_type: str  # MIME type given at write time
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata, names lower-case


def _check_segments(value: str, what: str, allow_trailing_slash: bool) -> None:
    if value.startswith("/"):
        raise ValueError(f"{what} {value!r} starts with '/'; keys are relative, e.g. 'images/r1/0.png'")
    if "\\" in value:
        raise ValueError(f"{what} {value!r} contains a backslash; use '/' to separate segments")
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"{what} {value!r} contains the control character {bad!r}; remove it")
    if len(value.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"{what} is {len(value.encode())} bytes long; the limit is {MAX_KEY_BYTES} (UTF-8)")
    segments = value.split("/")
    if allow_trailing_slash and segments[-1] == "":
        segments = segments[:-1]
    for seg in segments:
        if seg == "":
            raise ValueError(f"{what} {value!r} has an empty segment ('//' or a trailing '/'); remove it")
        if seg in (".", ".."):
            raise ValueError(f"{what} {value!r} has a {seg!r} segment; path traversal is not allowed")
        if len(seg.encode()) > MAX_SEGMENT_BYTES:
            raise ValueError(f"{what} {value!r} has a segment over {MAX_SEGMENT_BYTES} bytes; shorten it")


def validate_key(key: str) -> str:
    """Return `key` if it is a valid object key, else raise ValueError saying what to fix."""
    if not isinstance(key, str):
        raise ValueError(f"key must be a str, got {type(key).__name__}")
    if not key:
        raise ValueError("key is empty; give a relative path such as 'images/r1/0.png'")
    _check_segments(key, "key", allow_trailing_slash=False)
    return key


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if valid for list(): '' (everything) or key-like, optionally ending in '/'."""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str, got {type(prefix).__name__}")
    if prefix:
        _check_segments(prefix, "prefix", allow_trailing_slash=True)
    return prefix


def validate_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """Names: lower-case [a-z0-9-] (S3 folds case; some servers turn '_' into '-'). Values: any str."""
    metadata = dict(metadata or {})
    size = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _METADATA_NAME.match(name):
            raise ValueError(
                f"metadata name {name!r} is invalid; use 1-64 of lower-case a-z, 0-9 and '-', e.g. 'model-version'"
            )
        if not isinstance(value, str):
            raise ValueError(f"metadata {name!r} must be a str, got {type(value).__name__}; convert it with str()")
        size += len(name) + len(quote(value, safe=""))
    if size > MAX_METADATA_BYTES:
        raise ValueError(
            f"metadata is {size} bytes (URL-encoded); the limit is {MAX_METADATA_BYTES}; store large data as an object"
        )
    return metadata


def guess_content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE


class ObjectStore(ABC):
    """Write-once object storage. Implementations: LocalStore (embedded default) and S3Store."""

    @abstractmethod
    def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        """Write `data` under `key` once. Raises KeyExistsError if the key exists (never overwrites).

        content_type defaults to a guess from the key's extension. Returns after the write is durable.
        """

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's bytes. Raises KeyNotFoundError."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix` (a plain string prefix, as in S3), sorted."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size, content type and metadata. Raises KeyNotFoundError."""

    def metadata(self, key: str) -> dict[str, str]:
        return self.stat(key).metadata

    def put_file(
        self, key: str, path: str | Path, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        """Write a local file under `key` once (backends override this to stream large files)."""
        return self.put_bytes(key, Path(path).read_bytes(), content_type, metadata)

    def get_file(self, key: str, path: str | Path) -> Path:
        """Copy the object to a local file (overwriting that local file); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(self.get_bytes(key))
        shutil.move(tmp, path)
        return path
