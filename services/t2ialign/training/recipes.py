"""Named fine-tuning recipes: what a trainer job (StartFinetune's `recipe`) and the benchmarks start from.

"default" is FinetuneConfig's own (the paper's offline round, `t2ialign reproduce`); "round" is the chained
rounds' recipe (r_phi as a ranker), which the coordinator's rounds and `make demo` use.
"""

from __future__ import annotations

from collections.abc import Callable

from t2ialign.training.finetune import FinetuneConfig


def round_finetune() -> FinetuneConfig:
    """Fine-tuning in each chained round: each prompt's best 11% of samples by r_phi, if r_phi gives them
    >= 0.5, drawn by weight; the model term's timesteps from the top 30%; 300 steps at lr 3e-4; an EMA of 0.99.
    Ranking holds where r_phi's soft scores barely separate a prompt's good samples from its bad ones."""
    return FinetuneConfig(
        label_source="reward",
        use_unlabeled=False,
        weight_normalization="prompt_top",
        weight_top_fraction=0.11,
        weight_top_min=0.5,
        sampling="weighted",
        steps=300,
        ema_decay=0.99,
        model_timestep_min=0.7,
        lr=3e-4,
    )


FINETUNE_RECIPES: dict[str, Callable[[], FinetuneConfig]] = {"default": FinetuneConfig, "round": round_finetune}


def finetune_recipe(name: str) -> FinetuneConfig:
    """The named recipe's FinetuneConfig; ValueError naming the recipes for an unknown one."""
    if name not in FINETUNE_RECIPES:
        raise ValueError(f"unknown fine-tuning recipe {name!r}; use one of: {', '.join(FINETUNE_RECIPES)}")
    return FINETUNE_RECIPES[name]()
