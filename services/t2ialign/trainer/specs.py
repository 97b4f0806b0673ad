"""Start* requests -> validated job specs (plain JSON dicts a worker can rebuild its configs from). No Ray.

The numbers are the ones trainer.proto promises; 0 (or None for an optional field) means the recipe
default, i.e. RewardTrainConfig's and FinetuneConfig's own defaults, the ones `t2ialign reproduce` uses.
Bad knobs raise InvalidArgument, missing rounds and versions NotFound, before anything starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from t2ialign.serving.errors import InvalidArgument, NotFound, check
from t2ialign.serving.limits import MAX_GUIDANCE_SCALE, MAX_INFERENCE_STEPS, MAX_SEED
from t2ialign.serving.requests import check_id
from t2ialign.store import REWARD_SERVING, UNET_SERVING, ObjectStore, get_pointer, model_prefix

MAX_ROUNDS = 1000
MAX_EPOCHS = 1000
MAX_STEPS = 1_000_000
MAX_BATCH = 4096
MAX_WORKERS = 64
MAX_VAL_FRACTION = 0.5


def _int(value: Any, what: str, hi: int, lo: int = 0) -> int:
    check(isinstance(value, int) and not isinstance(value, bool), f"{what} must be an integer, got {value!r}")
    check(lo <= value <= hi, f"{what} is {value}; use {lo}..{hi}" + (" (0 = recipe default)" if lo == 0 else ""))
    return value


def _float(value: Any, what: str, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    check(isinstance(value, int | float) and not isinstance(value, bool), f"{what} must be a number, got {value!r}")
    check(math.isfinite(value), f"{what} is {value}; give a finite number")
    ok = (value > lo if lo_open else value >= lo) and value <= hi
    bounds = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
    check(ok, f"{what} is {value:g}; use a value in {bounds}")
    return float(value)


def _learning_rate(value: Any) -> float | None:
    if value == 0:
        return None
    return _float(value, "learning_rate", 0.0, 1.0, lo_open=True)


def _rounds(round_ids: list[str]) -> list[str]:
    check(1 <= len(round_ids) <= MAX_ROUNDS, f"round_ids has {len(round_ids)} entries; give 1..{MAX_ROUNDS} round ids")
    check(len(set(round_ids)) == len(round_ids), "round_ids repeats a round; list each round once")
    return [check_id(r, "round id") for r in round_ids]


def _common(req: dict[str, Any], default_workers: int) -> dict[str, Any]:
    request_id = req.get("request_id") or ""
    if request_id:
        check_id(request_id, "request_id")
    workers = _int(req.get("num_workers", 0), "num_workers", MAX_WORKERS) or default_workers
    return {"request_id": request_id, "num_workers": workers, "seed": _int(req.get("seed", 0), "seed", MAX_SEED)}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def reward_spec(req: dict[str, Any], default_workers: int) -> dict[str, Any]:
    """StartRewardTraining fields -> {"kind", "round_ids", "init_reward_version", "config", "val_fraction", ...}."""
    common = _common(req, default_workers)
    aux, val = req.get("aux_loss_weight"), req.get("val_fraction")
    config = {
        "epochs": _int(req.get("num_epochs", 0), "num_epochs", MAX_EPOCHS) or None,
        "lr": _learning_rate(req.get("learning_rate", 0)),
        "batch_size": _int(req.get("batch_size", 0), "batch_size", MAX_BATCH) or None,
        "pc_weight": None if aux is None else _float(aux, "aux_loss_weight", 0.0, 1e3),
        "seed": common["seed"],
    }
    init = req.get("init_reward_version") or ""
    return {
        "kind": "reward",
        "round_ids": _rounds(list(req.get("round_ids", []))),
        "init_reward_version": check_id(init, "init_reward_version") if init else "",
        "config": _drop_none(config),
        "val_fraction": 0.1 if val is None else _float(val, "val_fraction", 0.0, MAX_VAL_FRACTION),
        "request_id": common["request_id"],
        "num_workers": common["num_workers"],
    }


def finetune_spec(req: dict[str, Any], default_workers: int) -> dict[str, Any]:
    """StartFinetune fields -> {"kind", "round_ids", "base_unet_version", "reward_version", "config", ...}.

    `config` is the named recipe's FinetuneConfig (training/recipes.py) with the request's knobs on top."""
    from t2ialign.training.finetune import FinetuneConfig
    from t2ialign.training.recipes import FINETUNE_RECIPES, finetune_recipe

    common = _common(req, default_workers)
    beta, guidance = req.get("pretrain_loss_weight"), req.get("guidance_scale")
    config = {
        "steps": _int(req.get("num_train_steps", 0), "num_train_steps", MAX_STEPS) or None,
        "lr": _learning_rate(req.get("learning_rate", 0)),
        "batch_size": _int(req.get("batch_size", 0), "batch_size", MAX_BATCH) or None,
        "beta": None if beta is None else _float(beta, "pretrain_loss_weight", 0.0, 1e3),
        "mode": "lora" if req.get("use_lora") else "full",
        "seed": common["seed"],
    }
    recipe = req.get("recipe") or "default"
    check(recipe in FINETUNE_RECIPES, f"recipe {recipe!r} is unknown; use one of: {', '.join(FINETUNE_RECIPES)}")
    config = {**dataclasses.asdict(finetune_recipe(recipe)), **_drop_none(config)}
    try:
        ft = FinetuneConfig(**config)  # the halves of a batch must split evenly over the workers (DDP shards)
    except ValueError as e:
        raise InvalidArgument(str(e)) from e
    n = common["num_workers"]
    check(
        ft.model_batch % n == 0 and ft.pretrain_batch % n == 0,
        f"batch_size {ft.batch_size} splits into {ft.model_batch} model and {ft.pretrain_batch} corpus samples, "
        f"which do not divide evenly over {n} workers; use a batch_size that is a multiple of {2 * n}",
    )
    base, reward = req.get("base_unet_version") or "", req.get("reward_version") or ""
    return {
        "kind": "finetune",
        "recipe": recipe,
        "round_ids": _rounds(list(req.get("round_ids", []))),
        "base_unet_version": check_id(base, "base_unet_version") if base else "",
        "reward_version": check_id(reward, "reward_version") if reward else "",
        "config": config,
        "num_inference_steps": _int(req.get("num_inference_steps", 0), "num_inference_steps", MAX_INFERENCE_STEPS),
        "guidance_scale": None if guidance is None else _float(guidance, "guidance_scale", 0.0, MAX_GUIDANCE_SCALE),
        "request_id": common["request_id"],
        "num_workers": n,
    }


def _require_version(store: ObjectStore, kind: str, version: str, what: str) -> None:
    if not store.exists(model_prefix(kind, version) + "manifest.json"):
        raise NotFound(f"{what} {version!r} is not in the store (no {model_prefix(kind, version)}manifest.json)")


def resolve_inputs(store: ObjectStore, spec: dict[str, Any]) -> dict[str, Any]:
    """Check that the rounds and versions exist and pin the serving pointers to versions; returns the spec."""
    for r in spec["round_ids"]:
        if not store.list(f"images/{r}/"):
            raise NotFound(f"round {r!r} has no images (images/{r}/ is empty); check the round id")
        if spec["kind"] == "reward" and not store.list(f"feedback/{r}/"):
            raise InvalidArgument(f"round {r!r} has no labels (feedback/{r}/ is empty); collect feedback first")
    if spec["kind"] == "reward":
        if spec["init_reward_version"]:
            _require_version(store, "reward", spec["init_reward_version"], "init_reward_version")
        return spec
    if spec["base_unet_version"]:
        _require_version(store, "unet", spec["base_unet_version"], "base_unet_version")
    else:  # the serving UNet; with no pointer set, the base pipeline's own UNet ("")
        spec["base_unet_version"] = get_pointer(store, UNET_SERVING) or ""
    if spec["reward_version"]:
        _require_version(store, "reward", spec["reward_version"], "reward_version")
    else:
        pointed = get_pointer(store, REWARD_SERVING)
        if pointed is None:
            raise InvalidArgument(
                f"no reward_version given and the pointer {REWARD_SERVING!r} is unset; name a reward version"
            )
        spec["reward_version"] = pointed
    return spec
