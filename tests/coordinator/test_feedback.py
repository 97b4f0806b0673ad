"""Labels without Ray: written durably before they are acknowledged, a re-sent id is a duplicate, a repeated id
with a different label is refused and the request changes nothing; the trainer reads what the coordinator wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest

from t2ialign.common.png import encode_png
from t2ialign.coordinator.feedback import LabelCounter, submit
from t2ialign.serving.errors import InvalidArgument, NotFound
from t2ialign.serving.storage import put_generated_image
from t2ialign.store import LocalStore
from t2ialign.training.feedback import load_feedback


@pytest.fixture
def round_images(tmp_path) -> tuple[LocalStore, list[str]]:
    store = LocalStore(tmp_path / "store")
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    record = {"prompt": "a red circle", "seed": 3, "unet_version": "v0", "reward_version": "rw"}
    return store, [put_generated_image(store, "r1", png, record) for _ in range(3)]


def _label(label_id: str, key: str, **kw) -> dict:
    return {"label_id": label_id, "image_key": key, **kw}


def test_labels_are_stored_once_and_resending_is_harmless(round_images) -> None:
    store, keys = round_images
    out = submit(store, "r1", [_label("a", keys[0], choice="good"), _label("b", keys[1], rating=0.0)])
    assert out == {"num_accepted": 2, "num_duplicates": 0}
    stored = json.loads(store.get_bytes("feedback/r1/a.json"))
    assert stored["rating"] == 1.0 and stored["choice"] == "good" and stored["image_key"] == keys[0]
    again = submit(
        store, "r1", [_label("a", keys[0], choice="good", rater_id="someone"), _label("a", keys[0], rating=1)]
    )
    assert again == {"num_accepted": 0, "num_duplicates": 2}
    assert LabelCounter(store).counts("r1") == (2, 2)


def test_a_repeated_id_with_a_different_label_is_refused_and_nothing_is_written(round_images) -> None:
    store, keys = round_images
    submit(store, "r1", [_label("a", keys[0], choice="good")])
    with pytest.raises(InvalidArgument, match="immutable"):
        submit(store, "r1", [_label("new", keys[1], choice="bad"), _label("a", keys[0], choice="bad")])
    with pytest.raises(InvalidArgument, match="immutable"):  # within one request too
        submit(store, "r1", [_label("x", keys[1], choice="bad"), _label("x", keys[1], choice="good")])
    assert store.list("feedback/r1/") == ["feedback/r1/a.json"]


@pytest.mark.parametrize(
    ("label", "error", "match"),
    [
        ({"label_id": "a", "choice": "maybe"}, InvalidArgument, "good, bad or skip"),
        ({"label_id": "a", "rating": 2.0}, InvalidArgument, r"outside \[0, 1\]"),
        ({"label_id": "a", "rating": float("nan")}, InvalidArgument, "rating"),
        ({"label_id": "../x", "choice": "good"}, InvalidArgument, "label_id"),
        ({"label_id": "a", "choice": "good", "image_key": "images/r2/x.png"}, InvalidArgument, "not an image of round"),
        ({"label_id": "a", "choice": "good", "image_key": "images/r1/none.png"}, NotFound, "does not exist"),
    ],
)
def test_bad_labels_are_refused_with_what_to_change(round_images, label, error, match) -> None:
    store, keys = round_images
    with pytest.raises(error, match=match):
        submit(store, "r1", [_label("ok", keys[2], choice="good"), {"image_key": keys[0], **label}])
    assert store.list("feedback/") == []


def test_skips_are_counted_and_the_trainer_reads_the_labels(round_images) -> None:
    store, keys = round_images
    submit(store, "r1", [_label("a", keys[0], choice="good"), _label("b", keys[1], choice="bad")])
    submit(store, "r1", [_label("c", keys[2], choice="skip")])
    assert LabelCounter(store).counts("r1") == (3, 2)
    fs = load_feedback(store, "r1")  # generator-written images keep their prompt in the JSON beside the PNG
    assert fs.prompts == ["a red circle"] * 3 and sorted(fs.labels, key=str) == [0, 1, None]
