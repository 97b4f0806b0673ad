"""LocalStore: the object store in a local directory (the embedded default for one machine).

Layout under `root`:
  objects/<key>   one file per object: a JSON header line (content type, metadata, size), then the bytes
  tmp/            staging files, on the same filesystem so os.link works

Write-once under concurrency: each writer stages a complete file in tmp/, fsyncs it, then publishes it
with os.link(tmp, objects/<key>). link(2) fails with EEXIST if the name exists, atomically, so of two
racing writers exactly one wins and the loser gets KeyExistsError; a reader sees either no object or
the whole object (header and bytes in one file, so metadata can never be missing or mismatched).
Limitation: a key cannot also be a prefix of another key ('a' and 'a/b'); the layout never does this.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from t2ialign.store.base import (
    KeyExistsError,
    KeyNotFoundError,
    ObjectInfo,
    ObjectStore,
    guess_content_type,
    validate_key,
    validate_metadata,
    validate_prefix,
)

_MAGIC = b"t2ialign-object-v1 "  # first bytes of every object file, then a JSON header and b"\n"


class LocalStore(ObjectStore):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self._objects / validate_key(key)

    # writing ----------------------------------------------------------------------------------

    def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        return self._put(key, len(data), content_type, metadata, lambda f: f.write(data))

    def put_file(
        self, key: str, path: str | Path, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        path = Path(path)
        with open(path, "rb") as src:
            return self._put(key, path.stat().st_size, content_type, metadata, lambda f: shutil.copyfileobj(src, f))

    def _put(
        self,
        key: str,
        size: int,
        content_type: str | None,
        metadata: dict[str, str] | None,
        write_payload: Callable[[BinaryIO], object],
    ) -> ObjectInfo:
        # 1. Check inputs (before touching the disk).
        final = self._path(key)
        info = ObjectInfo(key, size, content_type or guess_content_type(key), validate_metadata(metadata))
        if final.is_file():  # fast path; the link below is what actually guarantees write-once
            raise KeyExistsError(f"{key!r} already exists; objects are write-once, use a new key")
        # 2. Stage the whole object in tmp/ and make it durable.
        header = json.dumps({"content_type": info.content_type, "metadata": info.metadata, "size": size})
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            with open(tmp, "wb") as f:
                f.write(_MAGIC + header.encode() + b"\n")
                write_payload(f)
                if f.tell() - len(_MAGIC) - len(header.encode()) - 1 != size:
                    raise OSError(f"{key!r}: wrote a different number of bytes than {size}; the source changed")
                f.flush()
                os.fsync(f.fileno())
            # 3. Publish atomically: link(2) never replaces an existing name.
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as e:
                raise ValueError(f"{key!r}: a parent segment is already an object in {self!r}") from e
            try:
                os.link(tmp, final)
            except FileExistsError:
                if final.is_dir():
                    raise ValueError(f"{key!r} is already a prefix of other keys in {self!r}") from None
                raise KeyExistsError(f"{key!r} already exists; objects are write-once, use a new key") from None
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return info

    # reading ----------------------------------------------------------------------------------

    @contextmanager
    def _open(self, key: str) -> Iterator[tuple[BinaryIO, dict]]:
        """The object file positioned at its payload, and its header."""
        path = self._path(key)
        try:
            f = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyNotFoundError(f"no object {key!r} in {self!r}") from None
        with f:
            line = f.readline()
            if not line.startswith(_MAGIC):
                raise OSError(f"{path} is not a t2ialign object file; it was written outside the store")
            yield f, json.loads(line[len(_MAGIC) :])

    def get_bytes(self, key: str) -> bytes:
        with self._open(key) as (f, _):
            return f.read()

    def get_file(self, key: str, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with self._open(key) as (f, _), open(tmp, "wb") as out:
            shutil.copyfileobj(f, out)
        os.replace(tmp, path)
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        with self._open(key) as (_, header):
            return ObjectInfo(key, header["size"], header["content_type"], dict(header["metadata"]))

    def list(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        # Walk only the deepest folder the prefix names, then filter by the plain string prefix.
        folder = self._objects / prefix.rsplit("/", 1)[0] if "/" in prefix else self._objects
        if not folder.is_dir():
            return []
        keys = []
        for dirpath, _, filenames in os.walk(folder):
            rel = Path(dirpath).relative_to(self._objects).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)


def _fsync_dir(path: Path) -> None:
    """Make a new directory entry durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
