"""Rounds as records in the object store, so that a restarted coordinator carries on where it was.

    rounds/<round>/prompts.json            the prompt set (written once, when the round starts)
    rounds/<round>/state/<seq>.json        snapshots of the round, append-only; the highest seq is current
    rounds/<round>/generated/<index>.json  one per prompt once its images are generated: keys, seed
    rounds/<round>/gate.json               the evaluation gate's result (also beside the candidate UNet)

The store is write-once, so a state change appends a snapshot (like the serving pointers). One coordinator
replica writes a round; two writers racing for one seq get KeyExistsError, and the loser re-reads.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from t2ialign.serving.errors import NotFound
from t2ialign.store import KeyExistsError, KeyNotFoundError, ObjectStore, get_json, put_json, validate_id

# The proto's RoundState names without the prefix; the last four are terminal.
STATES = (
    "GENERATING",
    "LABELING",
    "TRAINING_REWARD",
    "FINETUNING",
    "EVALUATING",
    "READY",
    "PROMOTED",
    "REJECTED",
    "FAILED",
    "CANCELLED",
)
TERMINAL = frozenset({"PROMOTED", "REJECTED", "FAILED", "CANCELLED"})
WORKING = frozenset(STATES[:5])  # states the round runner advances on its own (READY waits for Promote)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def round_prefix(round_id: str) -> str:
    return f"rounds/{validate_id(round_id, 'round id')}/"


class RoundStore:
    """Read and append round records."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def create(self, record: dict[str, Any], prompts: list[str]) -> tuple[dict[str, Any], bool]:
        """Write a new round (prompts first, then its first snapshot); an existing id returns the existing round."""
        prefix = round_prefix(record["round_id"])
        if self.store.exists(prefix + "prompts.json"):
            try:
                return self.get(record["round_id"]), False
            except NotFound:
                pass  # a crash between the two writes: the prompts are there, write the first snapshot
        else:
            try:
                put_json(self.store, prefix + "prompts.json", prompts)
            except KeyExistsError:
                return self.get(record["round_id"]), False
        record = {**record, "seq": 1, "created_at": now(), "updated_at": now()}
        try:
            put_json(self.store, f"{prefix}state/{1:012d}.json", record)
        except KeyExistsError:
            return self.get(record["round_id"]), False
        return record, True

    def get(self, round_id: str) -> dict[str, Any]:
        try:
            prefix = round_prefix(round_id)
        except ValueError as e:
            raise NotFound(f"round {round_id!r} does not exist ({e})") from e
        keys = self.store.list(prefix + "state/")
        if not keys:
            raise NotFound(f"round {round_id!r} does not exist; list rounds with `t2ialign round status`")
        return get_json(self.store, keys[-1])

    def update(self, record: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Append a snapshot with `changes` applied; raises KeyExistsError if another writer got there first."""
        new = {**record, **changes, "seq": record["seq"] + 1, "updated_at": now()}
        put_json(self.store, f"{round_prefix(record['round_id'])}state/{new['seq']:012d}.json", new)
        return new

    def round_ids(self) -> list[str]:
        """Every round id, in key order."""
        ids = {key.split("/")[1] for key in self.store.list("rounds/") if key.count("/") >= 2}
        return sorted(ids)

    def rounds(self, states: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """Current records (optionally only those in `states`), newest first."""
        out = []
        for rid in self.round_ids():
            try:
                rec = self.get(rid)
            except NotFound:
                continue  # created half-way (prompts only); StartRound with its id finishes it
            if states is None or rec["state"] in states:
                out.append(rec)
        return sorted(out, key=lambda r: r["created_at"], reverse=True)

    def prompts(self, round_id: str) -> list[str]:
        return get_json(self.store, round_prefix(round_id) + "prompts.json")

    def generated(self, round_id: str) -> dict[int, dict[str, Any]]:
        """Prompt index -> its generation record, for the prompts done so far."""
        prefix = round_prefix(round_id) + "generated/"
        return {int(k[len(prefix) : -len(".json")]): get_json(self.store, k) for k in self.store.list(prefix)}

    def put_generated(self, round_id: str, index: int, record: dict[str, Any]) -> None:
        with contextlib.suppress(KeyExistsError):  # written before a restart: the first record stands
            put_json(self.store, f"{round_prefix(round_id)}generated/{index:06d}.json", record)

    def put_once(self, key: str, obj: Any) -> Any:
        """Write `obj` at `key` unless something is there; returns what is stored."""
        try:
            put_json(self.store, key, obj)
            return obj
        except KeyExistsError:
            return get_json(self.store, key)

    def get_optional(self, key: str) -> Any | None:
        try:
            return get_json(self.store, key)
        except KeyNotFoundError:
            return None
