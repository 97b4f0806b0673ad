"""A round of the loop as a state machine over the object store (state.py), advanced by one runner thread:

    GENERATING -> LABELING -> TRAINING_REWARD -> FINETUNING -> EVALUATING -> PROMOTED | READY | REJECTED
    (any step may end in FAILED; READY waits for Promote)

Every step can be repeated after a crash without harm: generation records each prompt once done, labels have
deterministic ids (re-sending is a duplicate), trainer jobs are started with an idempotency key (request_id),
and the gate's result is written once. So a restarted coordinator re-reads its rounds and carries on.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from t2ialign.common.png import decode_png
from t2ialign.coordinator import feedback
from t2ialign.coordinator.clients import ServiceCalls, Transient
from t2ialign.coordinator.config import CoordinatorConfig
from t2ialign.coordinator.gate import run_gate
from t2ialign.coordinator.promotion import GATE_FILE, Promoter, SwapRefused, gate_key
from t2ialign.coordinator.state import WORKING, RoundStore, round_prefix
from t2ialign.serving import limits
from t2ialign.serving.errors import InvalidArgument, check
from t2ialign.store import UNET_SERVING, ObjectStore, get_pointer, model_prefix, validate_id
from t2ialign.toyworld.raters import SimulatedRaters
from t2ialign.training.feedback import prompt_seed
from t2ialign.training.rounds import round_prompts

log = logging.getLogger("t2ialign.coordinator")
MAX_PROMPTS = 10_000
MAX_ROUND_ID = 64  # the generator's limit on images/<round>/ folder names
TERMINAL_JOB = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}


def _version(kind: str, job_output: Any) -> dict[str, str]:
    return {"version": job_output.version, "prefix": job_output.prefix or model_prefix(kind, job_output.version)}


class RoundRunner:
    def __init__(
        self,
        cfg: CoordinatorConfig,
        store: ObjectStore,
        calls: ServiceCalls,
        promoter: Promoter,
        base: str,
        folders: tuple[Path, Path],
    ):
        self.cfg, self.store, self.calls, self.promoter = cfg, store, calls, promoter
        self.model_folder, self.clip_folder = folders  # the base pipeline and its text encoder, for the gate
        self.base_version = base  # what the generators serve while pointers/unet-serving is unset
        self.rounds = RoundStore(store)
        self.labels = feedback.LabelCounter(store)
        self.stop = threading.Event()

    # Starting -----------------------------------------------------------------------------------------
    def serving_unet(self) -> dict[str, str]:
        version = get_pointer(self.store, UNET_SERVING)
        return (
            {"version": version, "prefix": model_prefix("unet", version)}
            if version
            else {"version": self.base_version, "prefix": ""}
        )

    def start(self, f: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Validate a StartRound request and write the round (an existing round_id returns that round)."""
        round_id = f.get("round_id") or datetime.now(UTC).strftime("r%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
        try:
            validate_id(round_id, "round_id")
        except ValueError as e:
            raise InvalidArgument(str(e)) from e
        check(len(round_id) <= MAX_ROUND_ID, f"round_id has {len(round_id)} characters; the limit is {MAX_ROUND_ID}")
        seed = int(f.get("seed") or 0)
        check(0 <= seed <= limits.MAX_SEED, f"seed={seed}; use 0..2^63-1")
        prompts = list(f.get("prompts") or [])
        if not prompts:
            prompts = [p.text for p in round_prompts(self.cfg.prompts_per_category, seed % 2**32)]
        check(len(prompts) <= MAX_PROMPTS, f"{len(prompts)} prompts; send at most {MAX_PROMPTS}")
        for i, p in enumerate(prompts):
            check(
                isinstance(p, str) and len(p.strip()) > 0 and len(p) <= limits.MAX_PROMPT_CHARS,
                f"prompt {i} is empty or longer than {limits.MAX_PROMPT_CHARS} characters",
            )
        num_images = int(f.get("num_images") or self.cfg.num_images)
        check(1 <= num_images <= limits.MAX_NUM_IMAGES, f"num_images={num_images}; use 1..{limits.MAX_NUM_IMAGES}")
        steps = int(f.get("num_inference_steps") or 0)
        check(0 <= steps <= limits.MAX_INFERENCE_STEPS, f"num_inference_steps={steps}; use 0..200 (0 = default)")
        w = f.get("guidance_scale")
        check(
            w is None or (math.isfinite(w) and 0 <= w <= limits.MAX_GUIDANCE_SCALE),
            f"guidance_scale={w}; use a finite number in 0..50 (unset = default)",
        )
        raters = f.get("raters") or self.cfg.raters
        check(raters in ("simulated", "people"), f"raters={raters!r}; use simulated or people")
        labels_to_train = int(f.get("labels_to_train") or 0)
        check(0 <= labels_to_train <= 1_000_000, f"labels_to_train={labels_to_train}; use 0..1000000")
        record = {
            "round_id": round_id,
            "state": "GENERATING",
            "num_prompts": len(prompts),
            "num_images": num_images,
            "seed": seed,
            "num_inference_steps": steps,
            "guidance_scale": w,
            "labels_to_train": labels_to_train or len(prompts) * num_images,
            "auto_promote": bool(f.get("auto_promote")),
            "raters": raters,
            "unet_version": self.serving_unet(),
            "candidate_reward": None,
            "candidate_unet": None,
            "job_ids": [],
            "metrics": {},
            "error": "",
            "replicas": [],
            "config": {"gate": self.cfg.gate.model_dump(), "trainer": self.cfg.trainer.model_dump()},
        }
        return self.rounds.create(record, prompts)

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record plus live counts (images generated, labels stored)."""
        generated = self.rounds.generated(record["round_id"])
        stored, rated = self.labels.counts(record["round_id"])
        return {
            **record,
            "num_generated": sum(len(g["keys"]) for g in generated.values()),
            "num_labels": stored,
            "num_rated": rated,
        }

    # Advancing -----------------------------------------------------------------------------------------
    def run(self) -> None:
        """The runner thread: advance every working round, again and again, until `stop` is set."""
        while not self.stop.wait(self.cfg.poll_s):
            self.tick()

    def tick(self) -> None:
        for rec in self.rounds.rounds(WORKING):
            if self.stop.is_set():
                return
            try:
                self.step(rec)
            except Transient as e:
                log.warning("round %s: %s; retrying", rec["round_id"], e)
            except Exception as e:
                log.exception("round %s failed in %s", rec["round_id"], rec["state"])
                self._fail(self.rounds.get(rec["round_id"]), f"{rec['state']}: {type(e).__name__}: {e}")

    def _fail(self, rec: dict[str, Any], error: str, **changes: Any) -> dict[str, Any]:
        return self.rounds.update(rec, state="FAILED", error=error[:4096], **changes)

    def step(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Do one state's work (all of it, or as far as it can get now); returns the round as it is after."""
        return getattr(self, f"_{rec['state'].lower()}")(rec)

    def _generating(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Generate every prompt not yet done, `generate_concurrency` calls at a time (one per generator replica)."""
        rid, done = rec["round_id"], self.rounds.generated(rec["round_id"])
        todo = [(i, p) for i, p in enumerate(self.rounds.prompts(rid)) if i not in done]
        with ThreadPoolExecutor(self.cfg.generate_concurrency, thread_name_prefix="round-generate") as pool:
            for future in [pool.submit(self._generate_prompt, rec, i, p) for i, p in todo]:
                future.result()  # re-raises the first failure (Transient: the next tick retries what is left)
        if self.stop.is_set():
            return rec
        return self.rounds.update(rec, state="LABELING")

    def _generate_prompt(self, rec: dict[str, Any], index: int, prompt: str) -> None:
        if self.stop.is_set():
            return
        rid = rec["round_id"]
        fields = {
            "prompt": prompt,
            "num_images": rec["num_images"],
            "seed": prompt_seed(rec["seed"], index),
            "round": rid,
        }
        steps = rec["num_inference_steps"] or self.cfg.num_inference_steps
        if steps:
            fields["num_inference_steps"] = steps
        if rec["guidance_scale"] is not None:
            fields["guidance_scale"] = rec["guidance_scale"]
        r = self.calls.generate(**fields)
        keys = [im.image.key for im in r.images]
        self.rounds.put_generated(
            rid, index, {"prompt": prompt, "seed": fields["seed"], "keys": keys, "unet_version": r.unet_version}
        )

    def _labeling(self, rec: dict[str, Any]) -> dict[str, Any]:
        rid = rec["round_id"]
        if rec["raters"] == "simulated":
            for i, g in sorted(self.rounds.generated(rid).items()):
                if self.stop.is_set():
                    return rec
                self._simulated_labels(rid, i, g, rec["seed"])
        _, rated = self.labels.counts(rid)
        if rec["raters"] == "people" and rated < rec["labels_to_train"]:
            return rec  # waiting for SubmitFeedback
        return self.rounds.update(rec, state="TRAINING_REWARD")

    def _simulated_labels(self, rid: str, index: int, generated: dict[str, Any], seed: int) -> None:
        """The toy world's raters label one prompt's images; ids are deterministic, so a repeat is a duplicate."""
        keys = generated["keys"]
        images = np.stack([decode_png(self.store.get_bytes(k)) for k in keys])
        raters = SimulatedRaters(seed=random.Random(f"{self.cfg.rater_seed}/{seed}/{index}").getrandbits(32))
        labels = raters.rate(images, [generated["prompt"]] * len(keys))
        choice = {1: "good", 0: "bad", None: "skip"}
        feedback.submit(
            self.store,
            rid,
            [
                {
                    "label_id": f"sim-{k.rsplit('/', 1)[1][: -len('.png')]}",
                    "image_key": k,
                    "choice": choice[y],
                    "rater_id": "simulated",
                }
                for k, y in zip(keys, labels, strict=True)
            ],
        )

    def _job(self, rec: dict[str, Any], kind: str) -> Any | None:
        """Start (idempotently, by request_id) or look up the round's trainer job of `kind`; None while running."""
        rid, knobs = rec["round_id"], self.cfg.trainer
        job_id = rec.get(f"{kind}_job")
        if not job_id:
            common = {"round_ids": [rid], "seed": rec["seed"], "request_id": f"{rid}-{kind}"}
            if kind == "reward":
                extra = (
                    {} if knobs.reward_aux_loss_weight is None else {"aux_loss_weight": knobs.reward_aux_loss_weight}
                )
                job = self.calls.start_reward_training(
                    **common,
                    **extra,
                    num_epochs=knobs.reward_epochs,
                    learning_rate=knobs.reward_learning_rate,
                    val_fraction=knobs.reward_val_fraction,
                )
            else:
                extra = (
                    {} if knobs.pretrain_loss_weight is None else {"pretrain_loss_weight": knobs.pretrain_loss_weight}
                )
                job = self.calls.start_finetune(
                    **common,
                    **extra,
                    base_unet_version=rec["unet_version"]["version"] if rec["unet_version"]["prefix"] else "",
                    reward_version=rec["candidate_reward"]["version"],
                    num_train_steps=knobs.finetune_steps,
                    learning_rate=knobs.finetune_learning_rate,
                    recipe=knobs.finetune_recipe,
                )
            rec = self.rounds.update(rec, job_ids=[*rec["job_ids"], job.job_id], **{f"{kind}_job": job.job_id})
            job_id = job.job_id
        job = self.calls.get_job(job_id)
        from t2ialign.v1 import trainer_pb2

        state = trainer_pb2.JobState.Name(job.state)
        if state not in TERMINAL_JOB:
            return None
        if state != "JOB_STATE_SUCCEEDED":
            raise RuntimeError(f"trainer job {job_id} ended {state}: {job.error}")
        return job

    def _training_reward(self, rec: dict[str, Any]) -> dict[str, Any]:
        job = self._job(rec, "reward")
        rec = self.rounds.get(rec["round_id"])
        if job is None:
            return rec
        return self.rounds.update(rec, state="FINETUNING", candidate_reward=_version("reward", job.output))

    def _finetuning(self, rec: dict[str, Any]) -> dict[str, Any]:
        job = self._job(rec, "finetune")
        rec = self.rounds.get(rec["round_id"])
        if job is None:
            return rec
        return self.rounds.update(rec, state="EVALUATING", candidate_unet=_version("unet", job.output))

    def _evaluating(self, rec: dict[str, Any]) -> dict[str, Any]:
        rid, cand = rec["round_id"], rec["candidate_unet"]["version"]
        result = self.rounds.get_optional(round_prefix(rid) + GATE_FILE)
        if result is None:
            serving = get_pointer(self.store, UNET_SERVING)
            folders = (self.model_folder, self.clip_folder)
            reward = rec["candidate_reward"]["version"]
            result = run_gate(self.store, folders, serving, cand, self.cfg.gate, self.cfg.torch_threads, reward)
            result = self.rounds.put_once(gate_key(cand), {**result, "round_id": rid})
            result = self.rounds.put_once(round_prefix(rid) + GATE_FILE, result)
        rec = self.rounds.update(rec, metrics=result["metrics"], gate=result)
        if not result["passed"]:
            return self.rounds.update(rec, state="REJECTED", error=f"the gate: {result['reason']}")
        if not rec["auto_promote"]:
            return self.rounds.update(rec, state="READY")
        return self.promote_round(rec)

    def promote_round(self, rec: dict[str, Any], reason: str = "") -> dict[str, Any]:
        """Put the round's candidates in service (UNet first: if every replica refuses it, nothing moves)."""
        cand = rec["candidate_unet"]["version"]
        try:
            out = self.promoter.promote("unet", cand, reason or f"round {rec['round_id']} passed the gate")
        except SwapRefused as e:
            return self._fail(rec, f"promotion refused: {e.message}", replicas=e.replicas)
        self.promoter.promote("reward", rec["candidate_reward"]["version"], f"round {rec['round_id']}", skip_gate=True)
        failed = [r for r in out["replicas"] if r["error"]]
        error = f"{len(failed)} replica(s) kept the old version: {failed}" if failed else ""
        return self.rounds.update(rec, state="PROMOTED", replicas=out["replicas"], error=error[:4096])
