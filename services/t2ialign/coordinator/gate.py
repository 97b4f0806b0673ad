"""The evaluation gate: the candidate UNet against the serving one on the shared evaluation protocol
(t2ialign.evaluation.protocol: held-out prompts, seen and unseen; the oracle's alignment, the simulated
nine-rater panel, fidelity and diversity). Toy world only: it needs the oracle.

The candidate passes when every threshold of GateConfig holds; the result (metrics, the thresholds, each
check and a one-line reason) is stored with the round and beside the candidate's manifest.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from t2ialign.coordinator.config import GateConfig
from t2ialign.store import ObjectStore, download_folder, model_prefix


def _load_unet(store: ObjectStore, version: str, work: Path) -> Any:
    from t2ialign.models.toy_pipeline import load_unet

    folder = work / version
    download_folder(store, model_prefix("unet", version), folder)  # verifies every sha256
    return load_unet(folder)


def checks(metrics: dict[str, float], cfg: GateConfig) -> dict[str, bool]:
    """Each threshold of the gate, held or not."""
    return {
        "alignment_gain": metrics["alignment_gain"] >= cfg.min_alignment_gain,
        "panel": metrics["panel_win"] >= cfg.min_win_loss_ratio * metrics["panel_lose"],
        "fidelity": metrics["fidelity_ratio"] <= cfg.max_fidelity_ratio,
        "diversity": metrics["diversity_ratio"] >= cfg.min_diversity_ratio,
    }


def gate_metrics(models: dict[str, dict], panel: dict[str, dict]) -> dict[str, float]:
    """Flat metrics (the proto's map<string, double>) from the protocol's candidate and serving results."""
    cand, serv = models["candidate"], models["serving"]
    out = {
        "alignment_serving": serv["alignment_overall"]["all"],
        "alignment_candidate": cand["alignment_overall"]["all"],
        "panel_win": panel["all"]["win"],
        "panel_lose": panel["all"]["lose"],
        "panel_tie": panel["all"]["tie"],
        "fidelity_serving": serv["fidelity"]["all"],
        "fidelity_candidate": cand["fidelity"]["all"],
        "diversity_serving": serv["diversity"],
        "diversity_candidate": cand["diversity"],
    }
    out["alignment_gain"] = out["alignment_candidate"] - out["alignment_serving"]
    out["fidelity_ratio"] = out["fidelity_candidate"] / max(out["fidelity_serving"], 1e-9)
    out["diversity_ratio"] = out["diversity_candidate"] / max(out["diversity_serving"], 1e-9)
    if "mean_reward" in cand:
        out["mean_reward_candidate"], out["mean_reward_serving"] = (
            cand["mean_reward"]["all"],
            serv["mean_reward"]["all"],
        )
    for split, rate in cand["alignment_overall"].items():
        if split != "all":
            out[f"alignment_{split}_candidate"] = rate
            out[f"alignment_{split}_serving"] = serv["alignment_overall"][split]
    return {k: round(float(v), 5) for k, v in out.items()}


def run_gate(
    store: ObjectStore,
    folders: tuple[Path, Path],
    serving_version: str | None,
    candidate_version: str,
    cfg: GateConfig,
    torch_threads: int = 1,
    reward_version: str | None = None,
) -> dict[str, Any]:
    """Evaluate; `folders` are the base pipeline and its CLIP; `serving_version` None = the base UNet serves.
    `reward_version` (the round's r_phi) adds each model's mean reward; it is reported, not a threshold."""
    from t2ialign.evaluation.protocol import EvalProtocol, evaluate
    from t2ialign.models.toy_pipeline import ToyPipeline

    torch.set_num_threads(torch_threads)
    work = Path(tempfile.mkdtemp(prefix="t2ialign-gate-"))
    try:
        pipe = ToyPipeline.load(folders[0], clip=folders[1])
        unets = {
            "serving": _load_unet(store, serving_version, work) if serving_version else None,
            "candidate": _load_unet(store, candidate_version, work),
        }
        protocol = EvalProtocol(
            prompts_per_category=cfg.prompts_per_category,
            images_per_prompt=cfg.images_per_prompt,
            best_of=cfg.images_per_prompt,
            num_inference_steps=cfg.num_inference_steps,
            guidance_scale=cfg.guidance_scale,
            seed=cfg.seed,
        )
        reward = None
        if reward_version:
            from t2ialign.models.clip import ClipBackbone
            from t2ialign.models.reward import RewardModel

            download_folder(store, model_prefix("reward", reward_version), work / "reward")
            reward = RewardModel.load(work / "reward", ClipBackbone.load(folders[1])).eval()
        ev = evaluate(pipe, protocol, unets, pairs=[("candidate", "serving")], reward=reward)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    metrics = gate_metrics(ev.models, ev.panels["candidate_vs_serving"])
    held = checks(metrics, cfg)
    failed = [name for name, ok in held.items() if not ok]
    reason = "passed every threshold" if not failed else "did not hold: " + ", ".join(failed)
    return {
        "candidate": candidate_version,
        "serving": serving_version or "",
        "passed": not failed,
        "reason": reason,
        "checks": held,
        "metrics": metrics,
        "thresholds": cfg.model_dump(),
        "alignment": {"candidate": ev.models["candidate"]["alignment"], "serving": ev.models["serving"]["alignment"]},
    }
