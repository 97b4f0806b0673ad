"""Promotion and rollback: move a serving pointer and hot-swap every replica (docs/ARCHITECTURE.md, "Hot-swap").

For the UNet:
1. Check that the version exists (its manifest is in the store) and, unless skipped, passed the gate.
2. Tell every generator replica to load it (`Replicas.load`, a broadcast). Each downloads, verifies every
   sha256, builds the UNet beside the serving one and swaps one reference; a replica that fails keeps
   serving the old version and says why.
3. If no replica took it, the pointer does not move and the call fails, naming each replica's error.
   Otherwise append the pointer entry (history is kept; a replica that restarts reads it) and
4. confirm: ask every replica what it serves; any that does not serve the version is reported.
For the reward model: move pointers/reward-serving, then every reward replica reloads from it.
Rollback resolves the earlier version from the pointer history, then takes the same path.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from t2ialign.common.manifest import write_manifest
from t2ialign.serving.errors import FailedPrecondition, InvalidArgument, NotFound
from t2ialign.store import (
    REWARD_SERVING,
    UNET_SERVING,
    ObjectStore,
    get_json,
    get_pointer,
    model_prefix,
    rollback_target,
    set_pointer,
    upload_folder,
    validate_id,
)

POINTERS = {"unet": UNET_SERVING, "reward": REWARD_SERVING}
GATE_FILE = "gate.json"  # beside the candidate's manifest: the store is write-once, the manifest stays as trained


class Replicas(Protocol):
    """Every replica of one deployment (Ray: DeploymentHandle.broadcast)."""

    def load(self, version: str, prefix: str) -> list[dict[str, Any]]:
        """Each replica loads `version`: [{replica_id, swapped, version (served after), error}]."""

    def serving(self) -> list[dict[str, Any]]:
        """What each replica serves: [{replica_id, version}]."""


class SwapRefused(FailedPrecondition):
    """No replica loaded the version; every one keeps serving what it served. `replicas` says why, per replica."""

    def __init__(self, message: str, replicas: list[dict[str, Any]]):
        super().__init__(message)
        self.replicas = replicas


def gate_key(version: str) -> str:
    return model_prefix("unet", version) + GATE_FILE


class Promoter:
    """One promotion or rollback at a time (the coordinator runs one replica).

    `base_unet` (version, local UNet folder) is the base pipeline's own UNet: before the first promotion it is
    published under models/unet/<version>/ and entered in the pointer history, so a rollback can reach it.
    """

    def __init__(
        self,
        store: ObjectStore,
        generators: Replicas,
        rewards: Replicas | None,
        base_unet: tuple[str, Path] | None = None,
    ):
        self.store, self.generators, self.rewards, self.base_unet = store, generators, rewards, base_unet
        self._lock = threading.Lock()

    def _record_base(self) -> None:
        """What serves while pointers/unet-serving is unset becomes its first entry (once)."""
        if self.base_unet is None or get_pointer(self.store, UNET_SERVING) is not None:
            return
        version, unet_dir = self.base_unet
        if not self.store.exists(model_prefix("unet", version) + "manifest.json"):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / version
                shutil.copytree(unet_dir, folder)
                write_manifest(folder, kind="unet", version=version, parent_version="", note="the base pipeline's UNet")
                upload_folder(self.store, folder, model_prefix("unet", version))
        set_pointer(self.store, UNET_SERVING, version, "the base model, recorded before the first promotion")

    def _check_version(self, kind: str, version: str) -> str:
        if kind not in POINTERS:
            raise InvalidArgument(f"kind {kind!r} is unknown; use unet or reward")
        try:
            prefix = model_prefix(kind, validate_id(version, "version"))
        except ValueError as e:
            raise InvalidArgument(str(e)) from e
        if not self.store.exists(prefix + "manifest.json"):
            raise NotFound(f"{kind} version {version!r} does not exist (no {prefix}manifest.json)")
        return prefix

    def promote(self, kind: str, version: str, reason: str = "", skip_gate: bool = False) -> dict[str, Any]:
        prefix = self._check_version(kind, version)
        if kind == "unet" and not skip_gate:
            gate = get_json(self.store, gate_key(version)) if self.store.exists(gate_key(version)) else None
            if not gate or not gate.get("passed"):
                why = "was never evaluated" if not gate else f"failed the gate ({gate.get('reason', '')})"
                raise FailedPrecondition(f"unet {version!r} {why}; promote a version that passed, or set skip_gate")
        with self._lock:
            return self._move(kind, version, prefix, reason or f"promote {version}", None)

    def rollback(self, kind: str, version: str = "", reason: str = "") -> dict[str, Any]:
        if kind not in POINTERS:
            raise InvalidArgument(f"kind {kind!r} is unknown; use unet or reward")
        with self._lock:
            try:
                target = rollback_target(self.store, POINTERS[kind], version or None)
            except ValueError as e:
                raise (NotFound(str(e)) if version else FailedPrecondition(str(e))) from e
            prefix = self._check_version(kind, target["version"])
            return self._move(kind, target["version"], prefix, reason or f"rollback to {target['version']}", target)

    def _move(self, kind: str, version: str, prefix: str, reason: str, restores: dict | None) -> dict[str, Any]:
        pointer = POINTERS[kind]
        if kind == "unet":
            self._record_base()
        previous = get_pointer(self.store, pointer)
        replicas: list[dict[str, Any]] = []
        if kind == "unet":
            replicas = self.generators.load(version, prefix)
            if replicas and not any(r["swapped"] for r in replicas):
                errors = "; ".join(f"{r['replica_id']}: {r['error']}" for r in replicas)
                raise SwapRefused(
                    f"every generator replica refused unet {version!r} and keeps serving its version; {errors}"[:4096],
                    [{"replica_id": r["replica_id"], "version": r["version"], "error": r["error"]} for r in replicas],
                )
        entry = set_pointer(self.store, pointer, version, reason, restores_seq=restores["seq"] if restores else None)
        if kind == "unet":
            replicas = self._confirm(self.generators, replicas, version)
        elif self.rewards is not None:
            replicas = self._confirm(self.rewards, self.rewards.load(version, prefix), version)
        return {"kind": kind, "serving": version, "previous": previous, "entry": entry, "replicas": replicas}

    @staticmethod
    def _confirm(group: Replicas, loads: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
        """Per replica: what it serves now, and why not `version` where it does not."""
        errors = {r["replica_id"]: r.get("error", "") for r in loads}
        out = []
        for r in group.serving():
            error = "" if r["version"] == version else errors.get(r["replica_id"]) or f"serves {r['version']!r}"
            out.append({"replica_id": r["replica_id"], "version": r["version"], "error": error})
        return out
