"""Adapter from the serving folders to the object store (t2ialign.store): error mapping, generated-image
records, and model folders that may live on local disk or under an object-store prefix.

A model source is a local folder, or `store:<prefix>` for a checkpoint in the object store (downloaded
and sha256-verified by `download_folder`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from t2ialign.paths import REPO_ROOT
from t2ialign.serving.errors import InvalidArgument, NotFound, ServiceError, Unavailable
from t2ialign.store import KeyNotFoundError, ObjectStore, download_folder, image_key, open_store

DEFAULT_STORE = str(REPO_ROOT / "data" / "store")  # the embedded local store (gitignored)
STORE_SCHEME = "store:"
T = TypeVar("T")


def store_call(fn: Callable[[], T], what: str) -> T:
    """Run a store operation, mapping its errors to service errors (bad key -> INVALID_ARGUMENT, ...)."""
    try:
        return fn()
    except ServiceError:
        raise
    except KeyNotFoundError as e:
        raise NotFound(f"{what}: {e}; check the key") from e
    except ValueError as e:
        raise InvalidArgument(f"{what}: {e}") from e
    except OSError as e:
        raise Unavailable(f"{what}: object store error ({type(e).__name__}: {e}); retry later") from e


def connect(url: str) -> ObjectStore:
    """Open the store at startup, failing fast with the URL in the message."""
    try:
        return open_store(url)
    except Exception as e:
        raise RuntimeError(f"cannot open the object store {url!r}: {e}") from e


def resolve_folder(store: ObjectStore, source: str, work_dir: Path) -> Path:
    """A local folder for `source`: itself, or a verified download of `store:<prefix>` into work_dir."""
    if source.startswith(STORE_SCHEME):
        prefix = source[len(STORE_SCHEME) :]
        dest = work_dir / f"{prefix.strip('/').replace('/', '_')}-{uuid.uuid4().hex[:8]}"
        download_folder(store, prefix, dest)
        return dest
    folder = Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist; give a local folder or store:<prefix>")
    return folder


def base_version(folder: Path, backend: str = "toy") -> str:
    """The version name of a base pipeline: its manifest's `version`, else "<backend>-base" (the generator
    serves it under this name, and the coordinator enters it in the pointer history before a first promotion)."""
    from t2ialign.common.manifest import read_manifest

    return str(read_manifest(folder).get("version") or f"{backend}-base")


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" if a GPU is visible (Ray hides GPUs from replicas that did not ask for one), else "cpu"."""
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def new_image_id() -> str:
    """Time-ordered unique id: images of one request sort together and never collide (write-once keys)."""
    return f"{time.time_ns():x}-{uuid.uuid4().hex[:12]}"


def put_generated_image(store: ObjectStore, round_id: str, png: bytes, record: dict) -> str:
    """Write images/<round>/<id>.json (full metadata) then images/<round>/<id>.png; returns the PNG key.

    The PNG is written last, so a listed PNG always has its metadata. Short fields are also kept as object
    metadata on the PNG (S3 caps object metadata at 2 KiB, too little for a 1000-character prompt).
    """
    key = image_key(round_id, new_image_id())
    meta_key = key[: -len(".png")] + ".json"
    store.put_bytes(meta_key, (json.dumps(record, sort_keys=True) + "\n").encode(), "application/json")
    short = {
        "seed": str(record["seed"]),
        "model-version": str(record["unet_version"]),
        "reward-version": str(record["reward_version"]),
        "metadata-key": meta_key,
    }
    store.put_bytes(key, png, "image/png", short)
    return key
