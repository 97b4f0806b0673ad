"""Human labels: validated, written durably, then acknowledged (docs/ARCHITECTURE.md, "Storage").

A label is stored at feedback/<round>/<label-id>.json in training/feedback.py's format (the proto `Label` as
JSON). The object store's put is write-once and returns only after the bytes are on disk (fsync) or in S3,
so a label that was acknowledged survives a coordinator crash.

The rule for a repeated label id (decided here, tested in tests/coordinator/test_feedback.py):
- the same label again (same image, choice and rating; rater_id may differ) is a harmless duplicate:
  counted in `num_duplicates`, nothing is written;
- the same id with a different image, choice or rating is refused with INVALID_ARGUMENT and nothing from
  that request is written. Labels are immutable: a rater who changes their mind sends a new label id, and
  the trainer's majority vote over an image's labels decides.
All labels of a request are checked before any is written, so a refused request changes nothing.
"""

from __future__ import annotations

import json
import math
from typing import Any

from t2ialign.coordinator.state import now
from t2ialign.serving.errors import InvalidArgument, NotFound, Unavailable, check
from t2ialign.serving.requests import check_id
from t2ialign.serving.storage import store_call
from t2ialign.store import KeyExistsError, ObjectStore, feedback_key, get_json
from t2ialign.training.feedback import SCHEMA

CHOICES = {"good": 1.0, "bad": 0.0, "skip": None}
MAX_LABELS_PER_CALL = 1000


def label_record(round_id: str, label: dict[str, Any]) -> dict[str, Any]:
    """The stored form of one label; raises InvalidArgument saying what to change."""
    label_id = check_id(label.get("label_id", ""), "label_id")
    image = label.get("image_key", "")
    prefix = f"images/{round_id}/"
    check(
        isinstance(image, str)
        and image.startswith(prefix)
        and image.endswith(".png")
        and "/" not in image[len(prefix) :],
        f"label {label_id}: image_key {image!r} is not an image of round {round_id}; use images/{round_id}/<id>.png",
    )
    choice = label.get("choice") or ""
    if choice:
        check(choice in CHOICES, f"label {label_id}: choice {choice!r} is unknown; use good, bad or skip")
        rating = CHOICES[choice]
    else:
        rating = label.get("rating")
        check(
            isinstance(rating, int | float) and not isinstance(rating, bool) and math.isfinite(rating),
            f"label {label_id}: give choice good/bad/skip or a rating in [0, 1]",
        )
        check(0.0 <= rating <= 1.0, f"label {label_id}: rating {rating} is outside [0, 1] (1 good, 0 bad)")
        rating = float(rating)
        choice = "good" if rating == 1.0 else "bad" if rating == 0.0 else ""
    rater = label.get("rater_id") or ""
    check(isinstance(rater, str) and len(rater) <= 128, f"label {label_id}: rater_id is longer than 128 characters")
    return {
        "schema": SCHEMA,
        "label_id": label_id,
        "round_id": round_id,
        "image_key": image,
        "rating": rating,  # None for a skip: stored and counted, never trained on
        "choice": choice,
        "rater_id": rater,
        "received_at": now(),  # server time, for the raters' pace (labeling.py); not part of the label's identity
    }


def same_label(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("image_key", "rating", "choice"))


def _conflict(new: dict[str, Any], old: dict[str, Any]) -> InvalidArgument:
    return InvalidArgument(
        f"label {new['label_id']} is already stored with choice {old.get('choice')!r}, rating {old.get('rating')} "
        f"on {old.get('image_key')}; labels are immutable, send a new label_id to record a different label"
    )


def submit(store: ObjectStore, round_id: str, labels: list[dict[str, Any]]) -> dict[str, int]:
    """Check every label, then write the new ones; returns {num_accepted, num_duplicates}."""
    check(0 < len(labels) <= MAX_LABELS_PER_CALL, f"{len(labels)} labels; send 1..{MAX_LABELS_PER_CALL} per call")
    records: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for raw in labels:  # 1. validate, and de-duplicate within the request
        rec = label_record(round_id, raw)
        seen = records.get(rec["label_id"])
        if seen is not None:
            if not same_label(seen, rec):
                raise _conflict(rec, seen)
            duplicates += 1
            continue
        records[rec["label_id"]] = rec
    fresh = []
    for rec in records.values():  # 2. the images exist; stored ids agree
        if not store_call(lambda rec=rec: store.exists(rec["image_key"]), "checking a labeled image"):
            raise NotFound(f"label {rec['label_id']}: image {rec['image_key']} does not exist in round {round_id}")
        key = feedback_key(round_id, rec["label_id"])
        if store_call(lambda key=key: store.exists(key), "checking a label"):
            old = store_call(lambda key=key: get_json(store, key), "reading a label")
            if not same_label(old, rec):
                raise _conflict(rec, old)
            duplicates += 1
        else:
            fresh.append((key, rec))
    accepted = 0
    for key, rec in fresh:  # 3. write; the put returns once the label is durable
        data = (json.dumps(rec, indent=2, sort_keys=True) + "\n").encode()
        try:
            store.put_bytes(key, data, "application/json")
            accepted += 1
        except KeyExistsError:  # a concurrent request wrote the same id between steps 2 and 3
            if not same_label(get_json(store, key), rec):
                raise _conflict(rec, get_json(store, key)) from None
            duplicates += 1
        except OSError as e:
            raise Unavailable(f"storing label {rec['label_id']}: object store error ({e}); retry the call") from e
    return {"num_accepted": accepted, "num_duplicates": duplicates}


class LabelCounter:
    """Counts a round's stored labels (all, and the non-skips that training uses), reading each record once."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self._skip: dict[str, dict[str, bool]] = {}  # round -> key -> is a skip

    def counts(self, round_id: str) -> tuple[int, int]:
        """(labels stored, labels that are not skips)."""
        known = self._skip.setdefault(round_id, {})
        for key in self.store.list(f"feedback/{round_id}/"):
            if key not in known:
                known[key] = get_json(self.store, key).get("rating") is None
        return len(known), sum(not s for s in known.values())
