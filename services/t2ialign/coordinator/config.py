"""Coordinator settings (the args of `build_coordinator_app`, one block of deploy/serve_local.yaml).

The generator and trainer are reached over gRPC at the targets below (any of them may run outside the Ray
cluster); only the promotion's fan-out to every generator replica uses an in-cluster DeploymentHandle
(`broadcast`), because the gRPC proxy load-balances a call to one replica.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR
from t2ialign.serving.storage import DEFAULT_STORE


class GateConfig(BaseModel, extra="forbid"):
    """The evaluation gate: the candidate against the serving UNet on evaluation/protocol.py's held-out prompts.

    The candidate passes when every threshold holds. The defaults refuse a regression, not a modest gain: no
    loss of alignment, the panel's won at least its lost, fidelity within 1.2x and diversity at least 0.7x.
    Diversity falls as a round's model gets prompts right (one round measured x0.72 to x0.84 here,
    BENCHMARKS.md "make demo"), so issue 20's demo target of 0.85x is reported by `make demo`, not enforced.
    """

    prompts_per_category: int = Field(8, ge=1, le=64)  # per split (seen, unseen) and category: 64 prompts
    images_per_prompt: int = Field(4, ge=2, le=16)  # the panel compares sets of four (paper); diversity needs 2
    num_inference_steps: int = Field(10, ge=1, le=200)
    guidance_scale: float = Field(4.0, ge=0, le=50)
    seed: int = Field(0, ge=0)
    min_alignment_gain: float = 0.0  # candidate minus serving oracle alignment, all held-out prompts (0.08 = 8 points)
    min_win_loss_ratio: float = Field(1.0, ge=0)  # the panel: candidate's won >= ratio x lost
    max_fidelity_ratio: float = Field(1.2, gt=0)  # Fréchet distance to clean renders, candidate / serving
    min_diversity_ratio: float = Field(0.7, ge=0)  # diversity, candidate / serving


class TrainerKnobs(BaseModel, extra="forbid"):
    """Passed to the trainer's Start* requests; 0 = the trainer's recipe default (trainer.proto)."""

    reward_epochs: int = Field(0, ge=0)
    reward_learning_rate: float = Field(0.0, ge=0)
    finetune_steps: int = Field(0, ge=0)
    finetune_learning_rate: float = Field(0.0, ge=0)
    pretrain_loss_weight: float | None = Field(None, ge=0)
    # r_phi's L_pc weight (Eq. 2); 0 = L_MSE only, the shipped head (docs/REWARD_MODEL.md); None = trainer default
    reward_aux_loss_weight: float | None = Field(0.0, ge=0)
    # labels r_phi holds out for validation (and its best epoch); 0 = every label, to the last epoch. On one demo
    # round's pool, 0.1 gained +1.6 points and 0 gained +9.0 (BENCHMARKS.md, "make demo through the services")
    reward_val_fraction: float = Field(0.0, ge=0, le=0.5)
    # the fine-tuning recipe (training/recipes.py): "round" ranks each prompt's samples by r_phi
    finetune_recipe: Literal["default", "round"] = "round"


class LabelingConfig(BaseModel, extra="forbid"):
    """How people rounds hand out images (coordinator/labeling.py, docs/LABELING.md); fixed per round."""

    batch_size: int = Field(3, ge=1, le=16)  # images of one prompt per task (three, as in the paper)
    overlap_share: float = Field(0.2, ge=0, le=1)  # tasks that go to two raters, for agreement (Cohen's kappa)
    gold_share: float = Field(0.1, ge=0, le=1)  # tasks with known answers (the toy oracle's) that every rater gets
    lease_s: float = Field(1800, gt=0)  # an assignment with no label after this goes to someone else


class CoordinatorConfig(BaseModel, extra="forbid"):
    store_url: str = DEFAULT_STORE  # rounds/, feedback/, models/, pointers/
    generator_target: str = "127.0.0.1:9000"  # gRPC GeneratorService (the Serve proxy, or a standalone server)
    generator_application: str = "generator"  # `application` metadata for the Serve gRPC proxy ("" = none)
    trainer_target: str = "127.0.0.1:9000"  # gRPC TrainerService
    trainer_application: str = "trainer"
    service_key_env: str = (
        "T2IALIGN_SERVICE_KEY"  # admin key for outgoing calls; unset = an admin key of T2IALIGN_API_KEYS
    )
    generator_app: str = "generator"  # in-cluster Serve app + deployment that Promote broadcasts LoadUnet to
    generator_deployment: str = "GeneratorDeployment"
    reward_app: str = "reward"  # in-cluster app + deployment whose replicas follow pointers/reward-serving
    reward_deployment: str = "RewardDeployment"
    swap_timeout_s: float = Field(300, gt=0)  # per promotion: every replica downloads, verifies, builds, swaps
    call_timeout_s: float = Field(600, gt=0)  # per gRPC call (a Generate of a whole prompt's images)
    poll_s: float = Field(1.0, gt=0)  # how often the round runner looks at rounds and trainer jobs
    model: str = str(DEFAULT_GENERATOR)  # base pipeline (folder or store:<prefix>): the gate's, and the base's name
    clip: str = str(DEFAULT_CLIP)  # its toy text encoder (folder or store:<prefix>), for the gate
    raters: Literal["simulated", "people"] = "simulated"  # default for rounds that do not say
    rater_seed: int = 0
    # a round's default prompts: every seen count prompt plus this many per category (training.rounds.round_prompts;
    # 180 prompts x 9 images = 1,620 rated samples, the size benchmarks/demo_round.py measured)
    prompts_per_category: int = Field(40, ge=1, le=1000)
    num_images: int = Field(9, ge=1, le=16)  # default images per prompt
    num_inference_steps: int = Field(10, ge=0, le=200)  # default sampler steps of a round's images (0: generator's)
    generate_concurrency: int = Field(2, ge=1, le=64)  # Generate calls in flight (about one per generator replica)
    gate: GateConfig = GateConfig()
    labeling: LabelingConfig = LabelingConfig()
    trainer: TrainerKnobs = TrainerKnobs()
    torch_threads: int = Field(1, ge=1, le=64)  # the gate's evaluation runs in this replica
