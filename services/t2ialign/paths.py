"""Where the shipped toy weights live (committed to the repository, reproducible by `t2ialign pretrain`)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = REPO_ROOT / "weights" / "toy"
DEFAULT_CLIP = WEIGHTS_DIR / "clip"
DEFAULT_GENERATOR = WEIGHTS_DIR / "generator"
DEFAULT_REWARD = WEIGHTS_DIR / "reward"  # r_phi served when no reward pointer is set
