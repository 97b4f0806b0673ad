"""The storage layout (docs/ARCHITECTURE.md, "Storage"), which is part of the contract.

  images/<round>/<id>.png             generated images; metadata: prompt, seed, model version
  feedback/<round>/<label-id>.json    human labels, idempotent by label id
  models/unet/<version>/              diffusers-format checkpoint + manifest.json (sha256 of each file)
  models/reward/<version>/            the same, plus score-normalization statistics
  pointers/<name>/<seq>.json          serving-pointer history (unet-serving, reward-serving);
                                      the highest seq is in service, older entries allow rollback

Nothing is overwritten, pointers included: moving a pointer appends a history entry.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from t2ialign.store.base import KeyExistsError, ObjectStore

MODEL_KINDS = ("unet", "reward")
UNET_SERVING = "unet-serving"
REWARD_SERVING = "reward-serving"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def validate_id(value: str, what: str = "id") -> str:
    """Round ids, image ids, label ids, versions and pointer names: 1-128 of [A-Za-z0-9._-]."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(
            f"{what} {value!r} is invalid; use 1-128 characters of letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (e.g. 'r3' or 'unet-20240101')"
        )
    return value


def image_key(round_id: str, image_id: str) -> str:
    return f"images/{validate_id(round_id, 'round id')}/{validate_id(image_id, 'image id')}.png"


def feedback_key(round_id: str, label_id: str) -> str:
    return f"feedback/{validate_id(round_id, 'round id')}/{validate_id(label_id, 'label id')}.json"


def model_prefix(kind: str, version: str) -> str:
    """'models/<kind>/<version>/' for kind 'unet' or 'reward'."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind {kind!r} is unknown; valid: {', '.join(MODEL_KINDS)}")
    return f"models/{kind}/{validate_id(version, 'version')}/"


def pointer_prefix(name: str) -> str:
    return f"pointers/{validate_id(name, 'pointer name')}/"


# JSON objects -------------------------------------------------------------------------------------


def put_json(store: ObjectStore, key: str, obj: Any, metadata: dict[str, str] | None = None) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    store.put_bytes(key, data, "application/json", metadata)


def get_json(store: ObjectStore, key: str) -> Any:
    return json.loads(store.get_bytes(key))


# Serving pointers ---------------------------------------------------------------------------------


def _entry_key(name: str, seq: int) -> str:
    return f"{pointer_prefix(name)}{seq:012d}.json"  # zero-padded: lexical order is numeric order


def pointer_history(store: ObjectStore, name: str) -> list[dict[str, Any]]:
    """Every entry of a pointer, oldest first: {seq, version, set_at, reason, restores_seq}."""
    return [get_json(store, key) for key in store.list(pointer_prefix(name)) if key.endswith(".json")]


def _latest_entry(store: ObjectStore, name: str) -> dict[str, Any] | None:
    keys = [k for k in store.list(pointer_prefix(name)) if k.endswith(".json")]
    return get_json(store, keys[-1]) if keys else None


def get_pointer(store: ObjectStore, name: str) -> str | None:
    """The version in service under `name`, or None if the pointer was never set."""
    entry = _latest_entry(store, name)
    return entry["version"] if entry else None


def set_pointer(
    store: ObjectStore, name: str, version: str, reason: str = "", restores_seq: int | None = None
) -> dict[str, Any]:
    """Append a history entry that puts `version` in service; returns the entry.

    Concurrent setters race for the next seq; the write-once put picks one winner and the others
    retry with the following seq, so no entry is lost or overwritten.
    """
    validate_id(version, "version")
    for _ in range(100):
        latest = _latest_entry(store, name)
        entry = {
            "seq": (latest["seq"] + 1) if latest else 1,
            "version": version,
            "set_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "reason": reason,
            "restores_seq": restores_seq,
        }
        try:
            put_json(store, _entry_key(name, entry["seq"]), entry)
            return entry
        except KeyExistsError:
            continue
    raise RuntimeError(f"pointer {name!r}: gave up after 100 concurrent updates; try again")


def rollback_target(store: ObjectStore, name: str, version: str | None = None) -> dict[str, Any]:
    """The history entry a rollback would restore (nothing is written); raises ValueError if there is none.

    version=None goes back one step: to what served before the current version was first set, so
    repeated rollbacks walk v3 -> v2 -> v1 rather than bouncing between two versions.
    """
    history = pointer_history(store, name)
    if not history:
        raise ValueError(f"pointer {name!r} has no history; promote a version before rolling back")
    by_seq = {e["seq"]: e for e in history}
    if version is not None:
        matches = [e for e in history[:-1] if e["version"] == version and e["restores_seq"] is None]
        if not matches:
            known = sorted({e["version"] for e in history})
            raise ValueError(f"version {version!r} was never served under {name!r}; known: {', '.join(known)}")
        return matches[-1]
    # 1. The entry the current state stands for (follow rollbacks to the original entry).
    current = history[-1]
    while current["restores_seq"] is not None:
        current = by_seq[current["restores_seq"]]
    # 2. The entry before it, again resolved to an original entry.
    earlier = [e for e in history if e["seq"] < current["seq"]]
    if not earlier:
        raise ValueError(f"pointer {name!r} is at its first version {current['version']!r}; nothing earlier")
    target = earlier[-1]
    while target["restores_seq"] is not None:
        target = by_seq[target["restores_seq"]]
    return target


def rollback_pointer(store: ObjectStore, name: str, version: str | None = None, reason: str = "rollback") -> dict:
    """Put an earlier version back in service by appending an entry (history is never rewritten); see
    `rollback_target` for which entry."""
    target = rollback_target(store, name, version)
    return set_pointer(store, name, target["version"], reason, restores_seq=target["seq"])
