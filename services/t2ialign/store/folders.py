"""Checkpoint folders in the object store: upload with manifest last, download and verify.

A checkpoint folder holds manifest.json with the sha256 of every file (t2ialign.common.manifest).
The manifest is uploaded last, so its presence marks a complete upload; a download is verified
against it before it appears at its final path, so readers never see a partial or corrupt copy.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from t2ialign.common.manifest import MANIFEST, ManifestError, sha256_file, verify_manifest
from t2ialign.store.base import KeyExistsError, ObjectStore, validate_prefix


def _folder_prefix(prefix: str) -> str:
    validate_prefix(prefix)
    if not prefix:
        raise ValueError("prefix is empty; give a folder such as 'models/unet/<version>/'")
    return prefix if prefix.endswith("/") else prefix + "/"


def upload_folder(store: ObjectStore, local_dir: str | Path, prefix: str, require_manifest: bool = True) -> list[str]:
    """Upload every file under `local_dir` to `prefix`; returns the keys written or already present.

    1. Verify the manifest (refuse to publish a corrupt checkpoint).
    2. Upload the files, each with its sha256 in metadata; the manifest goes last.
    A retried upload skips keys that already hold the same sha256 and fails on any different content.
    """
    local_dir, prefix = Path(local_dir), _folder_prefix(prefix)
    if not local_dir.is_dir():
        raise ValueError(f"{local_dir} is not a directory")
    if require_manifest:
        verify_manifest(local_dir)
    files = []
    for path in sorted(local_dir.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise ValueError(f"{path} is a link or special file; a checkpoint folder holds regular files only")
        if path.is_file():
            files.append(path)
    files.sort(key=lambda p: p.name == MANIFEST and p.parent == local_dir)  # manifest last (stable sort)
    keys = []
    for path in files:
        key = prefix + path.relative_to(local_dir).as_posix()
        digest = sha256_file(path)
        try:
            store.put_file(key, path, metadata={"sha256": digest})
        except KeyExistsError:
            if store.metadata(key).get("sha256") != digest:
                raise KeyExistsError(
                    f"{key!r} already exists with different content; checkpoints are immutable, use a new version"
                ) from None
        keys.append(key)
    return keys


def download_folder(store: ObjectStore, prefix: str, local_dir: str | Path) -> dict[str, Any]:
    """Download the checkpoint under `prefix` into `local_dir` (which must not exist) and verify it.

    Returns the manifest. Raises ManifestError if the manifest is missing or any sha256 differs; in
    that case nothing is left at `local_dir`.
    """
    prefix, local_dir = _folder_prefix(prefix), Path(local_dir)
    if local_dir.exists():
        raise FileExistsError(f"{local_dir} exists; download into a new folder (checkpoints are immutable)")
    keys = store.list(prefix)
    if prefix + MANIFEST not in keys:
        raise ManifestError(
            f"no {MANIFEST} under {prefix!r} ({len(keys)} objects); the upload is incomplete or not a checkpoint"
        )
    # Stage beside the destination, verify, then rename into place in one step.
    staging = local_dir.with_name(f".{local_dir.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        for key in keys:
            store.get_file(key, staging / key[len(prefix) :])
        manifest = verify_manifest(staging)
        os.rename(staging, local_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
