"""The shipped toy weights: small, verified, safetensors only, and able to generate at once."""

import numpy as np
import pytest
from diffusers import DPMSolverMultistepScheduler

from t2ialign.common.manifest import verify_manifest
from t2ialign.paths import DEFAULT_CLIP, DEFAULT_GENERATOR, WEIGHTS_DIR

pytestmark = pytest.mark.skipif(
    not (DEFAULT_GENERATOR / "manifest.json").is_file(), reason="shipped generator weights not built yet"
)


def test_shipped_weights_fit_the_budget_and_are_safetensors_only():
    files = [p for p in WEIGHTS_DIR.rglob("*") if p.is_file() and "-checkpoint" not in str(p)]
    total_mb = sum(p.stat().st_size for p in files) / 2**20
    assert total_mb <= 30, f"shipped weights are {total_mb:.1f} MB"
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".ckpt", ".pkl"}]
    verify_manifest(DEFAULT_CLIP)
    verify_manifest(DEFAULT_GENERATOR)


@pytest.fixture(scope="module")
def base():
    from t2ialign.evaluation.alignment import load_generator

    return load_generator("base")


def test_fresh_checkout_generates_at_once(base):
    images = base("two red circles in the desert", num_images=2, seed=0)
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    assert images.std() > 10  # not a blank frame


def _roughness(images: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours: low for scenes, high for noise."""
    x = images.astype(np.float32)
    return float(np.abs(np.diff(x, axis=2)).mean())


def test_fast_sampler_matches_the_50_step_ddim_reference(base):
    """A sampler whose schedule differs from training makes noise without any error; ours must not."""
    prompts = ["a red circle in the snow", "two blue squares at night", "three yellow crosses on the grass"]
    fast = base(prompts, num_images=2, seed=7, num_inference_steps=20)
    ref = base(prompts, num_images=2, seed=7, num_inference_steps=50, sampler="ddim")
    # The failure this guards against: a sampler whose config does not match training (here the other
    # prediction type; for the earlier epsilon model it was DPM-Solver++ without x0 clipping).
    wrong = "epsilon" if base.noise_config["prediction_type"] == "v_prediction" else "v_prediction"
    original = base.sampler
    config = base.noise_config | {"prediction_type": wrong}
    base.sampler = lambda kind="dpm++": DPMSolverMultistepScheduler.from_config(config)
    try:
        broken = base(prompts, num_images=2, seed=7, num_inference_steps=20)
    finally:
        base.sampler = original
    assert _roughness(fast) < 1.5 * _roughness(ref)
    assert _roughness(broken) > 2 * _roughness(ref)
    gap = np.abs(fast.astype(np.float32) - ref).mean()
    assert gap < np.abs(broken.astype(np.float32) - ref).mean() / 3
    if base.noise_config["prediction_type"] == "v_prediction":  # both solve the same ODE: near-equal pixels
        assert gap < 15, f"DPM-Solver++ 20 steps differs from DDIM 50 steps by {gap:.1f}/255 per pixel"
