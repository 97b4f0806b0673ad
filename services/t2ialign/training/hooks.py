"""How a runner outside the training library steers a training loop (the trainer service's Ray Train workers).

The loops in reward_train.py and finetune.py take an optional `LoopHooks`; the default is a plain in-process
run, bit for bit what it was without hooks. A data-parallel runner sets `rank`/`world_size` (each rank
computes its equal share of every global batch, and the gradients are averaged, so N ranks make the same
update as one), `wrap` (e.g. torch DDP), `resume_from` (a folder written by a `StepInfo.save`), and `on_step`
(called after every optimizer step with progress and a way to checkpoint; returning True stops the loop).

This module imports neither Ray nor any serving code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class StepInfo:
    """Progress after an optimizer step."""

    step: int  # optimizer steps done
    total_steps: int  # optimizer steps planned
    metrics: dict[str, float]  # this rank's losses of the step
    save: Callable[[Path], None] | None = None  # writes a resumable checkpoint folder; None where the loop
    # cannot resume from this step (reward training resumes at epoch boundaries only)


@dataclass
class LoopHooks:
    rank: int = 0
    world_size: int = 1
    wrap: Callable[[torch.nn.Module], torch.nn.Module] = field(default=lambda m: m)  # e.g. DistributedDataParallel
    resume_from: Path | None = None  # a checkpoint folder written by StepInfo.save
    on_step: Callable[[StepInfo], bool] | None = None  # True: stop after this step

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside world_size {self.world_size}")

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of n (n must split evenly)."""
        if n % self.world_size:
            raise ValueError(f"a batch of {n} does not split evenly over {self.world_size} workers")
        per = n // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """Average the gradients over ranks (what DDP does), for loops that cannot use the DDP wrapper."""
        if self.world_size == 1:
            return
        import torch.distributed as dist

        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world_size

    def after_step(self, info: StepInfo) -> bool:
        return bool(self.on_step(info)) if self.on_step is not None else False
