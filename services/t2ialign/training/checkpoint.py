"""Resumable training checkpoints in safetensors only (weights, EMA and AdamW state; never pickles).

A checkpoint carries the config it was trained with; resuming with a different config is refused
(the nanoGPT habit), so a resumed run cannot silently change recipe.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from t2ialign.common.manifest import verify_manifest, write_manifest


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{idx}.{key}"] = t.detach().contiguous().cpu()
    return tensors, {"param_groups": sd["param_groups"]}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = t
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_training_state(
    folder: str | Path,
    step: int,
    config: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    ema: torch.nn.Module | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write model, EMA and optimizer state plus `state.json` (step, config) and a manifest.

    `extra_tensors` and `extra` (JSON) hold whatever else a loop needs to resume (RNG states, an EMA kept as
    a tensor list); read them back with `read_training_extra`."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    if ema is not None:
        save_file({k: v.contiguous() for k, v in ema.state_dict().items()}, tmp / "ema.safetensors")
    opt_tensors, opt_meta = _optimizer_tensors(optimizer)
    save_file(opt_tensors, tmp / "optimizer.safetensors")
    if extra_tensors:
        save_file({k: v.detach().contiguous().cpu() for k, v in extra_tensors.items()}, tmp / "extra.safetensors")
    state = {"step": step, "config": config, "optimizer": opt_meta, "extra": extra or {}}
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    write_manifest(tmp, kind="training-state", step=step)
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        folder.rename(old)
        tmp.rename(folder)
        for p in sorted(old.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        old.rmdir()
    else:
        tmp.rename(folder)


def load_training_state(
    folder: str | Path,
    config: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    ema: torch.nn.Module | None = None,
) -> int:
    """Restore a checkpoint written by `save_training_state`; returns the step to continue from."""
    folder = Path(folder)
    verify_manifest(folder)
    state = json.loads((folder / "state.json").read_text())
    if state["config"] != config:
        diff = {k: (state["config"].get(k), v) for k, v in config.items() if state["config"].get(k) != v}
        raise ValueError(f"checkpoint {folder} was trained with another config (saved, requested): {diff}")
    model.load_state_dict(load_file(folder / "model.safetensors"))
    if ema is not None and (folder / "ema.safetensors").exists():
        ema.load_state_dict(load_file(folder / "ema.safetensors"))
    _restore_optimizer(optimizer, load_file(folder / "optimizer.safetensors"), state["optimizer"])
    return int(state["step"])


def read_training_extra(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The `extra_tensors` and `extra` saved by `save_training_state` (empty if none were)."""
    folder = Path(folder)
    tensors = load_file(folder / "extra.safetensors") if (folder / "extra.safetensors").exists() else {}
    return tensors, json.loads((folder / "state.json").read_text()).get("extra", {})


@dataclass
class LoopState:
    """What a training loop needs to resume, beyond its config: the objects are restored in place."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    rng: random.Random
    ema: list[torch.Tensor] | None = None  # an EMA kept as a tensor list (finetune.py)
    history: list[dict[str, float]] = field(default_factory=list)  # recent per-step metrics


def save_loop_state(folder: str | Path, step: int, config: dict[str, Any], state: LoopState) -> None:
    """Weights, AdamW, the EMA, both RNGs and the last 50 history rows, resumable by `restore_loop_state`."""
    tensors = {"generator_state": state.generator.get_state()}
    tensors |= {f"ema.{i}": e for i, e in enumerate(state.ema or [])}
    extra = {"python_rng": state.rng.getstate(), "history": state.history[-50:]}
    save_training_state(folder, step, config, state.model, state.optimizer, None, tensors, extra)


def restore_loop_state(folder: str | Path, config: dict[str, Any], state: LoopState) -> int:
    """Load a `save_loop_state` checkpoint into `state`'s objects; returns the step to continue from."""
    step = load_training_state(folder, config, state.model, state.optimizer)
    tensors, extra = read_training_extra(folder)
    state.generator.set_state(tensors["generator_state"])
    for i, e in enumerate(state.ema or []):
        e.copy_(tensors[f"ema.{i}"])
    version, saved, gauss = extra["python_rng"]
    state.rng.setstate((version, tuple(saved), gauss))
    state.history.extend(extra["history"])
    return step
