"""The object store: one write-once interface, a local-directory and an S3/MinIO backend.

    store = open_store("file:///var/lib/t2ialign")          # or a plain path
    store = open_store("s3://t2ialign?endpoint=minio:9000&secure=false")  # creds from the environment

This package imports neither Ray nor any service; the S3 backend (and `minio`) loads only when used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, parse_qs, unquote, urlparse

from t2ialign.store.base import (
    KeyExistsError,
    KeyNotFoundError,
    ObjectInfo,
    ObjectStore,
    validate_key,
    validate_metadata,
    validate_prefix,
)
from t2ialign.store.folders import download_folder, upload_folder
from t2ialign.store.layout import (
    REWARD_SERVING,
    UNET_SERVING,
    feedback_key,
    get_json,
    get_pointer,
    image_key,
    model_prefix,
    pointer_history,
    put_json,
    rollback_pointer,
    rollback_target,
    set_pointer,
    validate_id,
)
from t2ialign.store.local import LocalStore

ACCESS_KEY_ENV = "T2IALIGN_S3_ACCESS_KEY"
SECRET_KEY_ENV = "T2IALIGN_S3_SECRET_KEY"
_S3_PARAMS = ("endpoint", "secure", "region")

__all__ = [
    "REWARD_SERVING",
    "UNET_SERVING",
    "KeyExistsError",
    "KeyNotFoundError",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "S3Store",
    "download_folder",
    "feedback_key",
    "get_json",
    "get_pointer",
    "image_key",
    "model_prefix",
    "open_store",
    "pointer_history",
    "put_json",
    "rollback_pointer",
    "rollback_target",
    "set_pointer",
    "upload_folder",
    "validate_id",
    "validate_key",
    "validate_metadata",
    "validate_prefix",
]


def __getattr__(name: str) -> Any:
    if name == "S3Store":  # lazy, so that importing the package does not import minio
        from t2ialign.store.s3 import S3Store

        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str | Path) -> ObjectStore:
    """Open a store from a URL.

    - a plain path, or file:///abs/path           -> LocalStore
    - s3://<bucket>?endpoint=host:port&secure=false[&region=r] -> S3Store; credentials from the
      environment variables T2IALIGN_S3_ACCESS_KEY and T2IALIGN_S3_SECRET_KEY (both required).
    """
    if isinstance(url, Path) or "://" not in url:
        if not str(url):
            raise ValueError("store URL is empty; give a directory, file:///path or s3://bucket?endpoint=host:port")
        return LocalStore(url)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"{url!r}: a file URL needs an absolute path, e.g. file:///var/lib/t2ialign")
        return LocalStore(unquote(parsed.path))
    if parsed.scheme == "s3":
        return _open_s3(url, parsed)
    raise ValueError(f"store URL scheme {parsed.scheme!r} is unknown; valid: file:///path, s3://bucket, or a path")


def _open_s3(url: str, parsed: ParseResult) -> ObjectStore:
    if not parsed.netloc:
        raise ValueError(f"{url!r} names no bucket; use s3://<bucket>?endpoint=host:port")
    if parsed.path not in ("", "/"):
        raise ValueError(f"{url!r}: paths inside the bucket are not supported; use s3://<bucket>")
    params = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - set(_S3_PARAMS))
    if unknown:
        raise ValueError(f"{url!r}: unknown parameter(s) {unknown}; valid: {', '.join(_S3_PARAMS)}")
    secure = params.get("secure", "true").lower()
    if secure not in ("true", "false", "1", "0"):
        raise ValueError(f"{url!r}: secure={secure!r}; use true or false")
    access_key, secret_key = os.environ.get(ACCESS_KEY_ENV), os.environ.get(SECRET_KEY_ENV)
    if not access_key or not secret_key:
        raise ValueError(f"{url!r} needs credentials: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}")
    from t2ialign.store.s3 import S3Store  # lazy: minio loads only for S3

    return S3Store(
        parsed.netloc,
        endpoint=params.get("endpoint") or "s3.amazonaws.com",
        access_key=access_key,
        secret_key=secret_key,
        secure=secure in ("true", "1"),
        region=params.get("region") or None,
    )
