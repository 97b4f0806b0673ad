"""The embedded toy world: a procedural shapes domain with an exact oracle (docs/METHOD.md, "The toy world")."""

from t2ialign.toyworld.grammar import (
    BACKGROUNDS,
    CATEGORIES,
    COLORS,
    OBJECTS,
    SEEN_OBJECTS,
    UNSEEN_OBJECTS,
    PromptSpec,
    parse_prompt,
    perturb,
    perturbed_prompts,
    sample_prompt,
)
from t2ialign.toyworld.oracle import Oracle, OracleVerdict
from t2ialign.toyworld.render import render

__all__ = [
    "BACKGROUNDS",
    "CATEGORIES",
    "COLORS",
    "OBJECTS",
    "SEEN_OBJECTS",
    "UNSEEN_OBJECTS",
    "Oracle",
    "OracleVerdict",
    "PromptSpec",
    "parse_prompt",
    "perturb",
    "perturbed_prompts",
    "render",
    "sample_prompt",
]
