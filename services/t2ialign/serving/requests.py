"""Request plumbing shared by the services: prompt checks, image inputs, and best-first selection.

Pure Python and numpy (no torch), so the gateway can use it without loading any model code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from t2ialign.serving.errors import InvalidArgument, check
from t2ialign.serving.limits import MAX_PROMPT_CHARS
from t2ialign.store import validate_id


@dataclass(frozen=True)
class ImageInput:
    """One input image: an object-store key or encoded bytes (exactly one)."""

    key: str = ""
    data: bytes = b""


def check_prompt(prompt: object, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise InvalidArgument(f"{what} must be a string, got {type(prompt).__name__}")
    check(bool(prompt.strip()), f"{what} is empty; give 1..{MAX_PROMPT_CHARS} characters of text")
    check(
        len(prompt) <= MAX_PROMPT_CHARS,
        f"{what} has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}. Shorten it.",
    )
    return prompt


def check_prompts(prompts: list[str], n_images: int) -> list[str]:
    """One prompt per image, or one prompt for all of them."""
    check(len(prompts) in (1, n_images), f"got {len(prompts)} prompts for {n_images} images; send 1 or {n_images}")
    prompts = [check_prompt(p, f"prompt {i}") for i, p in enumerate(prompts)]
    return prompts * n_images if len(prompts) == 1 else prompts


def check_id(value: str, what: str) -> str:
    """An id that names store objects (round, version): the store's rule, as INVALID_ARGUMENT."""
    try:
        return validate_id(value, what)
    except ValueError as e:
        raise InvalidArgument(str(e)) from e


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest scores, best first; ties keep the lower index (a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[: k if k > 0 else len(scores)]]
