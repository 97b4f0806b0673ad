"""sha256 manifests for checkpoint folders (docs/ARCHITECTURE.md, "Storage").

`manifest.json` lists the sha256 of every file in the folder, plus free-form metadata (parent version,
training config, evaluation metrics). Loading verifies every hash first, so a corrupt or partial
checkpoint is refused before any weight is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


class ManifestError(ValueError):
    """A checkpoint folder does not match its manifest."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: str | Path, **metadata: Any) -> dict[str, Any]:
    """Hash every file under `folder` (except the manifest) and write manifest.json."""
    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"files": files, **metadata}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder} has no {MANIFEST}; refusing an unverifiable checkpoint")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from e


def verify_manifest(folder: str | Path) -> dict[str, Any]:
    """Check every listed file's sha256; raise ManifestError naming the first mismatch."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{folder / MANIFEST} lists no files")
    for rel, digest in files.items():
        path = folder / rel
        if not path.is_file():
            raise ManifestError(f"{path} is listed in the manifest but missing")
        actual = sha256_file(path)
        if actual != digest:
            raise ManifestError(f"{path}: sha256 {actual[:12]}… does not match the manifest's {digest[:12]}…")
    return manifest
