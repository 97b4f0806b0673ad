"""Watching a round: progress lines as it moves, and a trickle of Generate calls through its promotion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from t2ialign.client import ClientError, CoordinatorClient, TrainerClient
from t2ialign.client.stream import GenerateStream

TERMINAL = {"PROMOTED", "READY", "REJECTED", "FAILED"}
SWAP_STATES = {"EVALUATING"}  # the trickle starts here, so it runs through the promotion that follows
# While the gate evaluates, one call every GATE_INTERVAL_S (the gate and the trickle share the CPU); from the
# gate's result on (the promotion under way), one every SWAP_INTERVAL_S.
GATE_INTERVAL_S, SWAP_INTERVAL_S = 3.0, 0.5
JOB_EVERY_S = 20


def _progress(rec: dict[str, Any]) -> str:
    state = rec["state"]
    if state == "GENERATING":
        return f"{rec['num_generated']}/{rec['num_prompts'] * rec['num_images']} images"
    if state == "LABELING":
        return f"{rec['num_labels']}/{rec['labels_to_train']} labels"
    if state == "PROMOTED":
        return f"replicas {[(r['replica_id'], r['version'], r['error'] or 'ok') for r in rec['replicas']]}"
    return rec.get("error") or ""


class RoundWatch:
    """Polls a round until it ends, printing each state change and, while a trainer job runs, its steps.

    From EVALUATING on, `stream` (started on a gRPC channel) sends Generate calls, so that the promotion happens
    under load; the demo reports which UNet version answered each call and how many failed."""

    def __init__(
        self,
        coordinator: CoordinatorClient,
        trainer: TrainerClient,
        channel: grpc.Channel,
        api_key: str,
        say: Callable[[str], None] = print,
        poll_s: float = 2.0,
    ):
        self.coordinator, self.trainer, self.say, self.poll_s = coordinator, trainer, say, poll_s
        self.stream = GenerateStream(
            channel,
            api_key,
            threads=1,
            interval_s=GATE_INTERVAL_S,
            request={"prompt": "two red circles", "num_images": 1},
        )

    def run(self, round_id: str, timeout_s: float = 7200) -> dict[str, Any]:
        t0, last_state, last_job = time.time(), "", 0.0
        streaming = False
        try:
            while True:
                rec = self.coordinator.get_round(round_id)
                if rec["state"] != last_state:
                    self.say(f"  [{time.time() - t0:5.0f} s] {rec['state']:<16} {_progress(rec)}")
                    last_state = rec["state"]
                elif rec["state"] == "GENERATING" and time.time() - last_job > JOB_EVERY_S:
                    self.say(f"  [{time.time() - t0:5.0f} s] {'':<16} {_progress(rec)}")
                    last_job = time.time()
                if rec["state"] in ("TRAINING_REWARD", "FINETUNING") and time.time() - last_job > JOB_EVERY_S:
                    self._job_line(rec, t0)
                    last_job = time.time()
                if not streaming and (rec["state"] in SWAP_STATES or rec["state"] in TERMINAL):
                    self.stream.__enter__()
                    streaming = True
                if (
                    streaming
                    and self.stream.interval_s != SWAP_INTERVAL_S
                    and (rec.get("gate") or rec["state"] in TERMINAL)
                ):
                    self.stream.set_interval(SWAP_INTERVAL_S)
                if rec["state"] in TERMINAL:
                    self.stream.wait_calls(4, timeout_s=60)  # a few calls after the swap: only the new version
                    return rec
                if time.time() - t0 > timeout_s:
                    raise TimeoutError(f"round {round_id} still {rec['state']} after {timeout_s:.0f} s")
                time.sleep(self.poll_s / 4 if streaming else self.poll_s)  # catch the gate's end early
        finally:
            if streaming:
                self.stream.__exit__()

    def _job_line(self, rec: dict[str, Any], t0: float) -> None:
        job_id = rec.get("finetune_job" if rec["state"] == "FINETUNING" else "reward_job")
        if not job_id:
            return
        try:
            job = self.trainer.get(job_id)
        except ClientError:
            return
        step, total = int(job.get("step", 0)), int(job.get("total_steps", 0))
        loss = job.get("metrics", {}).get("loss")
        extra = f", loss {loss:.4f}" if isinstance(loss, int | float) else ""
        self.say(f"  [{time.time() - t0:5.0f} s] {'':<16} job {job_id}: step {step}/{total}{extra}")

    def versions(self) -> dict[str, Any]:
        """The trickle: calls, failures, and the answering versions in order, as [version, count] runs."""
        calls = sorted(self.stream.calls, key=lambda c: c.start)
        runs: list[list[Any]] = []
        for c in calls:
            v = c.version or f"error: {c.error[:80]}"
            if runs and runs[-1][0] == v:
                runs[-1][1] += 1
            else:
                runs.append([v, 1])
        return {"calls": len(calls), "failed": sum(1 for c in calls if c.error), "versions_in_order": runs}
