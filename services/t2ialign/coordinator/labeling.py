"""People labeling a round (docs/LABELING.md): who gets which images, gold answers, and the admin's metrics.

A round's images are cut into tasks: one prompt and up to `batch_size` of its images (three, as the raters of
Lee et al. 2023 saw them). Everything that decides an assignment lives in the object store, so a restarted
coordinator hands out what it would have handed out:

    rounds/<round>/labeling/config.json                the round's shares, fixed at its first assignment
    rounds/<round>/labeling/gold.json                  gold images and their known answer (the toy oracle's)
    rounds/<round>/labeling/assign/<task>/<rater>.json one write-once record per (task, rater)

A task goes to one rater, except the `overlap_share` of tasks that go to two (their labels measure agreement,
Cohen's kappa) and the `gold_share` of tasks whose images the oracle answers: those go to every rater, about
one in 1/gold_share of each rater's tasks, and measure each rater's accuracy. An assignment that got no label
within `lease_s` frees its place for someone else. Labels themselves are ordinary feedback (feedback.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from datetime import datetime
from typing import Any

from t2ialign.common.png import decode_png
from t2ialign.coordinator.config import LabelingConfig
from t2ialign.coordinator.state import RoundStore, now, round_prefix
from t2ialign.serving.errors import NotFound, check
from t2ialign.store import KeyNotFoundError, ObjectStore, get_json

CHOICES = ("good", "bad", "skip")
PACE_GAP_S = 300.0  # gaps longer than this between a rater's labels are breaks, not labeling time


def _share(round_id: str, task: str, what: str) -> float:
    """A task's fixed draw in [0, 1) for `what` (overlap, gold): deterministic, so restarts agree."""
    h = hashlib.sha256(f"{round_id}/{task}/{what}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of (first rater, second rater) choices; None if undefined (no pairs, or chance = 1)."""
    if not pairs:
        return None
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    pe = sum((sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in CHOICES)
    return None if pe >= 1.0 else (po - pe) / (1.0 - pe)


class Labeling:
    """Assignment, gold answers and metrics of people rounds; one per coordinator replica (thread-safe)."""

    def __init__(self, store: ObjectStore, rounds: RoundStore, cfg: LabelingConfig):
        self.store, self.rounds, self.cfg = store, rounds, cfg
        self._lock = threading.Lock()
        self._assign: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}  # round -> task -> rater -> record
        self._labels: dict[str, dict[str, dict[str, Any]]] = {}  # round -> feedback key -> record
        self._tasks: dict[str, list[dict[str, Any]]] = {}  # round -> tasks (once generation is done)

    # The round's fixed pieces ---------------------------------------------------------------------------
    def config(self, round_id: str) -> dict[str, Any]:
        return self.rounds.put_once(round_prefix(round_id) + "labeling/config.json", self.cfg.model_dump())

    def tasks(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        """The round's tasks in order: {task_id, prompt, keys, overlap, gold}; [] while it is generating."""
        rid = rec["round_id"]
        if rid in self._tasks:
            return self._tasks[rid]
        if rec["state"] == "GENERATING":
            return []
        cfg = self.config(rid)
        gold = self.gold(rid, cfg)
        tasks = []
        for i, g in sorted(self.rounds.generated(rid).items()):
            keys = g["keys"]
            for c in range(0, len(keys), cfg["batch_size"]):
                tid = f"{i:06d}-{c // cfg['batch_size']}"
                chunk = keys[c : c + cfg["batch_size"]]
                is_gold = bool(chunk) and all(k in gold for k in chunk)
                overlap = not is_gold and _share(rid, tid, "overlap") < cfg["overlap_share"]
                tasks.append(
                    {"task_id": tid, "prompt": g["prompt"], "keys": chunk, "overlap": overlap, "gold": is_gold}
                )
        self._tasks[rid] = tasks
        return tasks

    def gold(self, round_id: str, cfg: dict[str, Any] | None = None) -> dict[str, str]:
        """Image key -> the known answer (good or bad) of the round's gold images; written once."""
        key = round_prefix(round_id) + "labeling/gold.json"
        with contextlib.suppress(KeyNotFoundError):
            return get_json(self.store, key)["answers"]
        cfg = cfg or self.config(round_id)
        answers: dict[str, str] = {}
        from t2ialign.toyworld.grammar import parse_prompt
        from t2ialign.toyworld.oracle import Oracle

        oracle = Oracle()
        for i, g in sorted(self.rounds.generated(round_id).items()):
            try:
                spec = parse_prompt(g["prompt"])
            except (ValueError, KeyError):
                continue  # not a toy-grammar prompt (Stable Diffusion rounds): no oracle, no gold
            for c in range(0, len(g["keys"]), cfg["batch_size"]):
                tid = f"{i:06d}-{c // cfg['batch_size']}"
                if _share(round_id, tid, "gold") >= cfg["gold_share"]:
                    continue
                for k in g["keys"][c : c + cfg["batch_size"]]:
                    match = oracle.judge(decode_png(self.store.get_bytes(k)), spec).match
                    answers[k] = "good" if match else "bad"
        return self.rounds.put_once(key, {"answers": answers, "source": "toy oracle", "created_at": now()})["answers"]

    # Reading what is stored -------------------------------------------------------------------------------
    def _load_assignments(self, round_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        if round_id not in self._assign:
            out: dict[str, dict[str, dict[str, Any]]] = {}
            for key in self.store.list(round_prefix(round_id) + "labeling/assign/"):
                r = get_json(self.store, key)
                out.setdefault(r["task_id"], {})[r["rater_id"]] = r
            self._assign[round_id] = out
        return self._assign[round_id]

    def labels(self, round_id: str) -> list[dict[str, Any]]:
        """Every stored label of the round (each record read once, then cached: labels are immutable)."""
        known = self._labels.setdefault(round_id, {})
        for key in self.store.list(f"feedback/{round_id}/"):
            if key not in known:
                known[key] = get_json(self.store, key)
        return list(known.values())

    # Handing out tasks -----------------------------------------------------------------------------------
    def current_round(self) -> dict[str, Any]:
        """The newest people round that is labeling."""
        live = [r for r in self.rounds.rounds(frozenset({"LABELING"})) if r["raters"] == "people"]
        if not live:
            raise NotFound("no round is waiting for people's labels; an admin starts one with raters=people")
        return live[0]

    def next_task(self, round_id: str, rater: str, exclude: list[str]) -> dict[str, Any]:
        """The rater's next task (one they hold unlabeled first, else a new one), or done=True when none is left."""
        check(len(exclude) <= 64, f"exclude has {len(exclude)} task ids; send at most 64")
        rec = self.rounds.get(round_id) if round_id else self.current_round()
        rid = rec["round_id"]
        check(rec["raters"] == "people", f"round {rid} is labeled by the simulated raters, not by people")
        base = {"round_id": rid, "rater_id": rater, "state": rec["state"], "labels_to_train": rec["labels_to_train"]}
        with self._lock:
            tasks = self.tasks(rec)
            labels = self.labels(rid)
            done_by = {(x.get("rater_id", ""), x["image_key"]) for x in labels}
            mine = sum(1 for x in labels if x.get("rater_id") == rater)
            progress = {"rated": sum(x.get("rating") is not None for x in labels), "mine": mine, "tasks": len(tasks)}
            out = {**base, "progress": progress, "done": True, "task": None}
            if rec["state"] != "LABELING":
                return out
            task = self._pick(rid, rater, tasks, done_by, set(exclude))
            if task is None:
                return out
            pub = {k: task[k] for k in ("task_id", "prompt", "keys")}
            return {**out, "done": False, "task": pub}

    def _pick(
        self, rid: str, rater: str, tasks: list[dict[str, Any]], done_by: set[tuple[str, str]], exclude: set[str]
    ) -> dict[str, Any] | None:
        assigned = self._load_assignments(rid)
        t_now = time.time()

        def labeled(task: dict[str, Any], who: str) -> bool:
            return any((who, k) in done_by for k in task["keys"])

        def holds(task: dict[str, Any], who: str, r: dict[str, Any]) -> bool:  # a place that still counts
            return labeled(task, who) or t_now - _ts(r["assigned_at"]) < self.cfg.lease_s

        open_ = [t for t in tasks if t["task_id"] not in exclude]
        for t in open_:  # 1. what this rater holds and has not labeled (after a reload, say)
            if rater in assigned.get(t["task_id"], {}) and not labeled(t, rater):
                return t
        mine = [t for t in tasks if rater in assigned.get(t["task_id"], {})]
        gold_due = sum(t["gold"] for t in mine) < self.cfg.gold_share * (len(mine) + 1)
        candidates = []
        for t in open_:
            holders = assigned.get(t["task_id"], {})
            if rater in holders:
                continue
            if t["gold"]:
                if gold_due:
                    return self._assign_to(rid, t, rater)
                continue
            places = 2 if t["overlap"] else 1
            taken = sum(holds(t, who, r) for who, r in holders.items())
            if taken < places:
                candidates.append((-taken, t))  # finish half-taken overlap pairs first
        if not candidates:
            golds = [t for t in open_ if t["gold"] and rater not in assigned.get(t["task_id"], {})]
            return self._assign_to(rid, golds[0], rater) if golds else None  # the queue is out: the gold left
        candidates.sort(key=lambda x: x[0])
        return self._assign_to(rid, candidates[0][1], rater)

    def _assign_to(self, rid: str, task: dict[str, Any], rater: str) -> dict[str, Any]:
        rec = {"task_id": task["task_id"], "rater_id": rater, "assigned_at": now(), "keys": task["keys"]}
        key = f"{round_prefix(rid)}labeling/assign/{task['task_id']}/{rater}.json"
        rec = self.rounds.put_once(key, rec)
        self._assign[rid].setdefault(task["task_id"], {})[rater] = rec
        return task

    # Images and export -----------------------------------------------------------------------------------
    def image(self, key: str) -> bytes:
        parts = key.split("/")
        check(
            len(parts) == 3 and parts[0] == "images" and parts[2].endswith(".png"),
            f"{key!r} is not an image key; use images/<round>/<id>.png",
        )
        try:
            return self.store.get_bytes(key)
        except (KeyNotFoundError, ValueError) as e:
            raise NotFound(f"image {key} does not exist") from e

    def export(self, round_id: str) -> list[dict[str, Any]]:
        """Every label of the round, oldest first, with the gold answer where the image is gold."""
        self.rounds.get(round_id)  # NOT_FOUND for an unknown round
        gold = self._gold_if_any(round_id)
        out = [{**x, "gold": gold.get(x["image_key"])} for x in self.labels(round_id)]
        return sorted(out, key=lambda x: (x.get("received_at", ""), x["label_id"]))

    def _gold_if_any(self, round_id: str) -> dict[str, str]:
        try:
            return get_json(self.store, round_prefix(round_id) + "labeling/gold.json")["answers"]
        except KeyNotFoundError:
            return {}

    # The admin's metrics --------------------------------------------------------------------------------
    def stats(self, round_id: str) -> dict[str, Any]:
        """Labels, agreement on overlapped images (Cohen's kappa), gold accuracy and pace per rater."""
        rec = self.rounds.get(round_id)
        labels = self.labels(round_id)
        gold = self._gold_if_any(round_id)
        by_image: dict[str, list[dict[str, Any]]] = {}
        for x in sorted(labels, key=lambda x: x.get("received_at", "")):
            by_image.setdefault(x["image_key"], []).append(x)
        pairs = []
        for xs in by_image.values():  # the first two distinct raters of each image labeled twice
            firsts: dict[str, str] = {}
            for x in xs:
                firsts.setdefault(x.get("rater_id", ""), x["choice"] or "skip")
            if len(firsts) >= 2:
                a, b = list(firsts.values())[:2]
                pairs.append((a, b))
        raters: dict[str, dict[str, Any]] = {}
        for x in labels:
            raters.setdefault(x.get("rater_id", ""), {"labels": []})["labels"].append(x)
        rows = []
        for who, r in sorted(raters.items()):
            xs = r["labels"]
            graded = [x for x in xs if x["image_key"] in gold and x["choice"] in ("good", "bad")]
            correct = sum(x["choice"] == gold[x["image_key"]] for x in graded)
            times = sorted(_ts(x["received_at"]) for x in xs if x.get("received_at"))
            active = sum(min(b - a, PACE_GAP_S) for a, b in zip(times, times[1:], strict=False))
            after_first = sum(t > times[0] for t in times) if times else 0
            rows.append(
                {
                    "rater_id": who,
                    "labels": len(xs),
                    "skips": sum(x.get("rating") is None for x in xs),
                    "gold_labels": len(graded),
                    "gold_accuracy": correct / len(graded) if graded else None,
                    "labels_per_min": after_first / (active / 60) if active > 0 else None,
                    "first_at": min((x.get("received_at", "") for x in xs), default=""),
                    "last_at": max((x.get("received_at", "") for x in xs), default=""),
                }
            )
        return {
            "round_id": round_id,
            "state": rec["state"],
            "raters_kind": rec["raters"],
            "labels_to_train": rec["labels_to_train"],
            "num_labels": len(labels),
            "num_rated": sum(x.get("rating") is not None for x in labels),
            "num_gold_images": len(gold),
            "overlap_pairs": len(pairs),
            "kappa": cohen_kappa(pairs),
            "agreement": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
            "raters": rows,
        }

    def all_stats(self, limit: int = 20) -> list[dict[str, Any]]:
        check(1 <= limit <= 1000, f"limit={limit}; use 1..1000")
        people = [r for r in self.rounds.rounds() if r["raters"] == "people"][:limit]
        return [self.stats(r["round_id"]) for r in people]
