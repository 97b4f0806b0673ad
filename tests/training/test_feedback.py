"""Feedback collection and its storage format (images/<round>/<id>.png, feedback/<round>/<label-id>.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from t2ialign.store import KeyExistsError, LocalStore
from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.raters import RaterConfig, SimulatedRaters
from t2ialign.training.feedback import FeedbackSet, collect_feedback, load_feedback, save_feedback

PROMPTS = [PromptSpec("circle", count=2, category="count"), PromptSpec("square", color="red", category="color")]


def _collect(pipe, raters, store=None, round_id="r1"):
    return collect_feedback(pipe, PROMPTS, 3, raters, seed=5, round_id=round_id, store=store, num_inference_steps=2)


def test_collect_feedback_generates_and_rates(tiny_pipe) -> None:
    raters = SimulatedRaters(RaterConfig(flip_rate=0.0, skip_rate=0.5), seed=1)
    fs = _collect(tiny_pipe, raters)
    assert fs.images.shape == (6, 32, 32, 3) and fs.images.dtype == np.uint8
    assert fs.prompts == [PROMPTS[0].text] * 3 + [PROMPTS[1].text] * 3
    assert all(y in (0, 1, None) for y in fs.labels) and None in fs.labels
    assert len(set(fs.image_ids)) == 6
    # The metadata reproduces each image exactly.
    m = fs.metadata[4]
    again = tiny_pipe(m["prompt"], num_images=int(m["num-images"]), seed=int(m["seed"]), num_inference_steps=2)
    np.testing.assert_array_equal(again[int(m["sample-index"])], fs.images[4])
    # Same seed, same ids and images; raters=None leaves samples unlabeled.
    unlabeled = _collect(tiny_pipe, None)
    assert unlabeled.labels == [None] * 6 and unlabeled.image_ids == fs.image_ids


def test_save_load_round_trip_through_local_store(tiny_pipe, tmp_path) -> None:
    store = LocalStore(tmp_path / "store")
    fs = _collect(tiny_pipe, SimulatedRaters(RaterConfig(skip_rate=0.3), seed=2), store=store)
    keys = store.list("")
    assert sum(k.startswith("images/r1/") and k.endswith(".png") for k in keys) == 6
    n_labels = sum(y is not None for y in fs.labels)
    label_keys = store.list("feedback/r1/")
    assert len(label_keys) == n_labels
    rec = json.loads(store.get_bytes(label_keys[0]))
    assert set(rec) == {"schema", "label_id", "round_id", "image_key", "rating", "rater_id"}
    assert rec["image_key"].startswith("images/r1/") and rec["rating"] in (0.0, 1.0)
    assert store.metadata(rec["image_key"])["prompt"] in fs.prompts

    loaded = load_feedback(store, "r1")
    order = [fs.image_ids.index(i) for i in loaded.image_ids]
    np.testing.assert_array_equal(loaded.images, fs.images[order])
    assert loaded.prompts == [fs.prompts[i] for i in order]
    assert loaded.labels == [fs.labels[i] for i in order]
    assert loaded.round_id == "r1"

    # Sending the same feedback again is harmless; different content under the same ids is refused.
    assert save_feedback(fs, store) == {"images": 0, "labels": 0}
    changed = FeedbackSet(fs.images[::-1].copy(), fs.prompts, fs.labels, fs.image_ids, "r1", fs.metadata)
    with pytest.raises(KeyExistsError, match="different content"):
        save_feedback(changed, store)


def test_load_feedback_aggregates_several_raters(tmp_path) -> None:
    store = LocalStore(tmp_path / "store")
    img = np.zeros((1, 32, 32, 3), np.uint8)
    for rater, y in [("a", 1), ("b", 1), ("c", 0)]:
        save_feedback(FeedbackSet(img, ["a red circle"], [y], ["img0"], "r2"), store, rater_id=rater)
    assert load_feedback(store, "r2").labels == [1]
    with pytest.raises(ValueError, match="no images"):
        load_feedback(store, "r3")


def test_feedback_set_validates_and_filters() -> None:
    img = np.zeros((3, 32, 32, 3), np.uint8)
    fs = FeedbackSet(img, ["a ring"] * 3, [1, None, 0], ["a", "b", "c"], "r1")
    assert fs.labeled().image_ids == ["a", "c"] and fs.good_rate == 0.5
    both = FeedbackSet.concat([fs, fs.labeled()])
    assert len(both) == 5
    with pytest.raises(ValueError, match="one prompt"):
        FeedbackSet(img, ["a ring"], [1, 0, 1], ["a", "b", "c"], "r1")
    with pytest.raises(ValueError, match="labels must be"):
        FeedbackSet(img, ["a ring"] * 3, [1, 2, 0], ["a", "b", "c"], "r1")


def test_generator_service_images_load_in_generation_order_whatever_order_they_were_written(tmp_path) -> None:
    """A round's Generate calls interleave, and the service's image ids are time-based: the set must not depend
    on which call finished first (else the round's r_phi and fine-tuning see the data in another order)."""
    from t2ialign.common.png import encode_png
    from t2ialign.serving.storage import put_generated_image

    rng = np.random.default_rng(0)
    shots = [(prompt, seed, i) for prompt, seed in (("two circles", 7), ("a red square", 3)) for i in range(3)]
    pngs = {shot: encode_png(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)) for shot in shots}
    loaded = []
    for name, order in (("forward", shots), ("reversed", shots[::-1])):
        store = LocalStore(tmp_path / name)
        for prompt, seed, i in order:
            record = {"prompt": prompt, "seed": seed, "index": i, "unet_version": "u", "reward_version": "r"}
            put_generated_image(store, "r1", pngs[(prompt, seed, i)], record)
        loaded.append(load_feedback(store, "r1"))
    assert loaded[0].prompts == loaded[1].prompts == ["a red square"] * 3 + ["two circles"] * 3
    np.testing.assert_array_equal(loaded[0].images, loaded[1].images)
    assert loaded[0].image_ids != loaded[1].image_ids  # the same images under other (time-based) ids
