"""People rounds' assignment without Ray (coordinator/labeling.py): each task goes to one rater except the overlap
share (two) and gold tasks (everyone); a restarted coordinator hands out the same; the admin's metrics; rater keys."""

from __future__ import annotations

import numpy as np
import pytest

from t2ialign.common.png import encode_png
from t2ialign.coordinator.config import LabelingConfig
from t2ialign.coordinator.feedback import submit
from t2ialign.coordinator.labeling import Labeling, cohen_kappa
from t2ialign.coordinator.state import RoundStore
from t2ialign.serving.auth import ApiKeys, key_identity
from t2ialign.serving.errors import NotFound, PermissionDenied, Unauthenticated
from t2ialign.serving.storage import put_generated_image
from t2ialign.store import LocalStore

PROMPTS = [
    "a red circle",
    "two blue squares",
    "a yellow diamond",
    "three crosses",
    "a green ring",
    "a triangle in the snow",
]


def make_round(store: LocalStore, rid: str = "rp", images: int = 3, state: str = "LABELING") -> RoundStore:
    rounds = RoundStore(store)
    rec = {"round_id": rid, "state": state, "raters": "people", "labels_to_train": 100, "num_prompts": len(PROMPTS)}
    rounds.create(rec, PROMPTS)
    png = encode_png(np.full((16, 16, 3), 200, np.uint8))
    for i, p in enumerate(PROMPTS):
        meta = {"prompt": p, "seed": i, "unet_version": "v0", "reward_version": "rw"}
        keys = [put_generated_image(store, rid, png, meta) for _ in range(images)]
        rounds.put_generated(rid, i, {"prompt": p, "seed": i, "keys": keys, "unet_version": "v0"})
    return rounds


def label_task(store, out: dict, choice: str = "good") -> None:
    t = out["task"]
    labels = [
        {"label_id": f"{out['rater_id']}-{k.split('/')[-1][:-4]}", "image_key": k, "choice": choice} for k in t["keys"]
    ]
    submit(store, out["round_id"], [{**x, "rater_id": out["rater_id"]} for x in labels])


def drain(lab: Labeling, store, rater: str, choice: str = "good") -> list[str]:
    got = []
    while not (out := lab.next_task("rp", rater, []))["done"]:
        got.append(out["task"]["task_id"])
        label_task(store, out, choice)
    return got


def test_tasks_go_to_one_rater_except_overlap_and_gold(tmp_path) -> None:
    store = LocalStore(tmp_path)
    rounds = make_round(store)
    lab = Labeling(store, rounds, LabelingConfig(overlap_share=0.5, gold_share=0.34))
    tasks = lab.tasks(rounds.get("rp"))
    assert len(tasks) == 6 and all(len(t["keys"]) == 3 for t in tasks)
    gold = {t["task_id"] for t in tasks if t["gold"]}
    overlap = {t["task_id"] for t in tasks if t["overlap"]}
    assert gold and overlap and not gold & overlap  # the shares this seed draws (deterministic by round id)
    # Alternating raters: nobody else gets a task that goes to one rater.
    a, b, seen = [], [], {}
    while True:
        outs = [lab.next_task("rp", r, []) for r in ("alice", "bob")]
        if all(o["done"] for o in outs):
            break
        for o, mine in zip(outs, (a, b), strict=True):
            if not o["done"]:
                mine.append(o["task"]["task_id"])
                seen.setdefault(o["task"]["task_id"], []).append(o["rater_id"])
                label_task(store, o, "good" if o["rater_id"] == "alice" else "bad")
    for tid, who in seen.items():
        expected = 2 if tid in gold | overlap else 1
        assert len(who) == expected and len(set(who)) == expected, (tid, who)
    assert set(seen) == {t["task_id"] for t in tasks}
    # The admin's metrics: disagreeing raters on every shared image, gold answers from the oracle.
    s = lab.stats("rp")
    assert s["num_labels"] == sum(3 * len(w) for w in seen.values())
    assert s["overlap_pairs"] == 3 * len(gold | overlap) and s["agreement"] == 0.0
    assert s["num_gold_images"] == 3 * len(gold)
    rows = {r["rater_id"]: r for r in s["raters"]}
    assert rows["alice"]["gold_labels"] == 3 * len(gold) and rows["alice"]["gold_accuracy"] is not None
    assert rows["alice"]["gold_accuracy"] + rows["bob"]["gold_accuracy"] == pytest.approx(1.0)  # good vs bad
    exported = lab.export("rp")
    assert len(exported) == s["num_labels"] and sum(x["gold"] is not None for x in exported) == 3 * len(gold) * 2


def test_a_restarted_coordinator_hands_out_what_it_handed_out(tmp_path) -> None:
    store = LocalStore(tmp_path)
    rounds = make_round(store)
    cfg = LabelingConfig(overlap_share=0.0, gold_share=0.0)
    first = Labeling(store, rounds, cfg).next_task("rp", "alice", [])["task"]["task_id"]
    again = Labeling(store, rounds, cfg)  # a new replica: state from the store only
    assert again.next_task("rp", "alice", [])["task"]["task_id"] == first  # held, unlabeled: the same task
    assert again.next_task("rp", "bob", [])["task"]["task_id"] != first  # nobody else gets it
    nxt = again.next_task("rp", "alice", [first])["task"]["task_id"]  # the page holds it: the next one
    assert nxt != first
    # The round's shares are fixed when it first hands out work: a new config does not reshuffle it.
    changed = Labeling(store, rounds, LabelingConfig(overlap_share=1.0))
    assert not any(t["overlap"] for t in changed.tasks(rounds.get("rp")))


def test_a_lease_frees_a_task_that_got_no_label(tmp_path) -> None:
    store = LocalStore(tmp_path)
    rounds = make_round(store)
    lab = Labeling(store, rounds, LabelingConfig(overlap_share=0.0, gold_share=0.0, lease_s=1e-6))
    first = lab.next_task("rp", "alice", [])["task"]["task_id"]
    assert lab.next_task("rp", "bob", [])["task"]["task_id"] == first


def test_only_people_rounds_that_are_labeling_hand_out_work(tmp_path) -> None:
    store = LocalStore(tmp_path)
    rounds = make_round(store, state="TRAINING_REWARD")
    lab = Labeling(store, rounds, LabelingConfig())
    assert lab.next_task("rp", "alice", [])["done"]
    with pytest.raises(NotFound, match="no round is waiting"):
        lab.next_task("", "alice", [])
    with pytest.raises(NotFound):
        lab.next_task("nope", "alice", [])


def test_cohen_kappa() -> None:
    assert cohen_kappa([("good", "good"), ("bad", "bad")]) == 1.0
    assert cohen_kappa([("good", "bad"), ("bad", "good")]) == -1.0
    assert cohen_kappa([("good", "good")]) is None and cohen_kappa([]) is None
    # 3 of 4 agree, marginals 0.5/0.5: kappa = (0.75 - 0.5) / 0.5
    assert cohen_kappa([("good", "good"), ("bad", "bad"), ("good", "good"), ("bad", "good")]) == pytest.approx(0.5)


def test_rater_keys_label_and_nothing_else() -> None:
    keys = ApiKeys.parse("user-key-0123:user,admin-key-0123:admin,rater-key-01:rater@alice,rater-key-02:rater")
    alice = keys.caller("Bearer rater-key-01", "rater")
    assert (alice.scope, alice.identity) == ("rater", "alice")
    assert keys.caller("Bearer rater-key-02", "feedback").identity == key_identity("rater-key-02", "rater")
    assert keys.check("Bearer admin-key-0123", "rater") == "admin"
    for scope in ("user", "admin"):
        with pytest.raises(PermissionDenied):
            keys.check("Bearer rater-key-01", scope)
    with pytest.raises(PermissionDenied):
        keys.check("Bearer user-key-0123", "rater")
    with pytest.raises(Unauthenticated):
        keys.check("Bearer wrong-key-0000", "rater")
    with pytest.raises(ValueError, match="only rater keys take a name"):
        ApiKeys.parse("user-key-0123:user@bob")
