"""t2ialign: aligning text-to-image models with human feedback (Lee et al. 2023, arXiv 2302.12192)."""

__version__ = "0.1.0"
