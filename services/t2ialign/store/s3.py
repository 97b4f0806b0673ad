"""S3Store: the object store on S3 or MinIO through the `minio` SDK (production).

Write-once: every put first checks that the key is absent, then writes with `If-None-Match: *`, a
conditional PUT that AWS S3 (since 2024), MinIO and moto refuse with 412 when the key exists. That
closes the check-then-write race on those servers. minio-py (7.2) has no public argument for the
header (its `metadata` would turn it into x-amz-meta-if-none-match), so we call the SDK's internal
single-part `_put_object`; if that ever disappears we fall back to the public `put_object`, where
only the existence check protects the key and two racing writers of the same key can both succeed
(the last one wins). Files over `multipart_threshold` take that same unconditional path.
User metadata travels as HTTP headers, which must be ASCII, so values are URL-encoded on the wire
and decoded on read.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote, unquote

import urllib3
from minio import Minio
from minio.error import S3Error

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

_MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
_EXISTS = {"PreconditionFailed", "ConditionalRequestConflict"}
_META = "x-amz-meta-"


class S3Store(ObjectStore):
    def __init__(
        self,
        bucket: str,
        endpoint: str = "s3.amazonaws.com",  # host:port, no scheme
        access_key: str | None = None,
        secret_key: str | None = None,
        secure: bool = True,  # https; false for a MinIO or moto on loopback
        region: str | None = None,
        create_bucket: bool = True,  # make the bucket if it is missing (needs the permission)
        multipart_threshold: int = 64 << 20,  # bytes; larger files stream in parts, unconditionally
    ) -> None:
        if "://" in endpoint:
            raise ValueError(f"endpoint {endpoint!r} must be host:port without a scheme; use secure= for https")
        self.bucket = bucket
        self.endpoint = endpoint
        self.multipart_threshold = multipart_threshold
        # Short connect timeout and a few retries, so a dead store fails fast instead of hanging.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self.client = Minio(endpoint, access_key, secret_key, secure=secure, region=region, http_client=http)
        if create_bucket and not self.client.bucket_exists(bucket):
            try:
                self.client.make_bucket(bucket)
            except S3Error as e:  # another process created it in between
                if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self.endpoint!r})"

    # writing ----------------------------------------------------------------------------------

    def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"data must be bytes, got {type(data).__name__}")
        info = self._check_put(key, len(data), content_type, metadata)
        headers = {"Content-Type": info.content_type, "If-None-Match": "*", **self._meta_headers(info.metadata)}
        try:
            put = self.client._put_object  # internal: the only minio-py call that takes raw headers
        except AttributeError:
            self._put_stream(info, io.BytesIO(bytes(data)))
            return info
        try:
            put(self.bucket, key, bytes(data), headers=headers)
        except S3Error as e:
            # Note: if a retried PUT had in fact succeeded the first time, we report our own write here.
            if e.code in _EXISTS:
                raise KeyExistsError(f"{key!r} already exists; objects are write-once, use a new key") from None
            raise
        return info

    def put_file(
        self, key: str, path: str | Path, content_type: str | None = None, metadata: dict[str, str] | None = None
    ) -> ObjectInfo:
        path = Path(path)
        size = path.stat().st_size
        if size <= self.multipart_threshold:
            return self.put_bytes(key, path.read_bytes(), content_type, metadata)
        info = self._check_put(key, size, content_type, metadata)
        with open(path, "rb") as f:
            self._put_stream(info, f)
        return info

    def _check_put(self, key: str, size: int, content_type: str | None, metadata: dict[str, str] | None) -> ObjectInfo:
        info = ObjectInfo(validate_key(key), size, content_type or guess_content_type(key), validate_metadata(metadata))
        # Also protects the key on servers that ignore If-None-Match.
        if self.exists(key):
            raise KeyExistsError(f"{key!r} already exists; objects are write-once, use a new key")
        return info

    def _put_stream(self, info: ObjectInfo, stream: io.BufferedIOBase) -> None:
        # Unconditional: racing writers of the same key are not detected here (see the module doc).
        self.client.put_object(
            self.bucket,
            info.key,
            stream,
            info.size,
            content_type=info.content_type,
            metadata={k: quote(v, safe="") for k, v in info.metadata.items()},
        )

    @staticmethod
    def _meta_headers(metadata: dict[str, str]) -> dict[str, str]:
        return {_META + k: quote(v, safe="") for k, v in metadata.items()}

    # reading ----------------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as e:
            raise self._missing(key, e) from None
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get_file(self, key: str, path: str | Path) -> Path:
        validate_key(key)
        path = Path(path)
        try:
            self.client.fget_object(self.bucket, key, str(path))  # downloads to a temp file, then renames
        except S3Error as e:
            raise self._missing(key, e) from None
        return path

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except KeyNotFoundError:
            return False
        return True

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            obj = self.client.stat_object(self.bucket, key)
        except S3Error as e:
            raise self._missing(key, e) from None
        metadata = {
            name.lower()[len(_META) :]: unquote(value)
            for name, value in (obj.metadata or {}).items()
            if name.lower().startswith(_META)
        }
        return ObjectInfo(key, obj.size or 0, obj.content_type or "", metadata)

    def list(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        objects = self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        return sorted(o.object_name for o in objects if o.object_name and not o.is_dir)

    def _missing(self, key: str, e: S3Error) -> Exception:
        if e.code in _MISSING:
            return KeyNotFoundError(f"no object {key!r} in {self!r}")
        return e
