"""Prompt grammar of the toy world, following the paper's four prompt categories (Lee et al. 2023, §4.1).

A prompt names an object (a shape) plus one of: a count ("three circles"), a color ("a red circle"),
a background ("a circle in the desert"), or all three ("two red circles in the desert").
`perturb` swaps one attribute for another value: the negatives of the prompt-classification loss (Eq. 2).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

# Objects: shapes. The last one is never used in feedback prompts (the paper's "unseen" objects);
# it still appears in the pre-training corpus.
OBJECTS: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")
UNSEEN_OBJECTS: tuple[str, ...] = ("diamond",)
SEEN_OBJECTS: tuple[str, ...] = tuple(o for o in OBJECTS if o not in UNSEEN_OBJECTS)
PLURALS: dict[str, str] = {o: ("crosses" if o == "cross" else o + "s") for o in OBJECTS}

# Saturated object colors (RGB). Backgrounds use muted tones so that the oracle can tell them apart.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 200),
    "orange": (250, 140, 30),
}

# Background name -> the phrase used in prompts. Each is a procedural texture (see render.py).
BACKGROUNDS: dict[str, str] = {
    "desert": "in the desert",
    "snow": "in the snow",
    "night": "at night",
    "city": "in the city",
    "grass": "on the grass",
}

COUNT_WORDS: dict[int, str] = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
WORD_COUNTS: dict[str, int] = {w: n for n, w in COUNT_WORDS.items()} | {"a": 1, "an": 1}
CATEGORIES: tuple[str, ...] = ("count", "color", "background", "combination")
ATTRIBUTES: tuple[str, ...] = ("count", "color", "object", "background")


def max_count(height: int) -> int:
    """Counts 1-4 fit a 32x32 image; 64x64 images take up to six objects."""
    return 4 if height < 64 else 6


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt asks for. `None` means the prompt leaves that attribute open."""

    object: str
    count: int = 1  # 1..max_count; every prompt fixes it ("a circle" means one)
    color: str | None = None
    background: str | None = None
    category: str = "combination"  # one of CATEGORIES; decides how the count is worded

    def __post_init__(self) -> None:
        if self.object not in OBJECTS:
            raise ValueError(f"unknown object {self.object!r}; available: {', '.join(OBJECTS)}")
        if self.count not in COUNT_WORDS:
            raise ValueError(f"count must be 1..{max(COUNT_WORDS)}, got {self.count}")
        if self.color is not None and self.color not in COLORS:
            raise ValueError(f"unknown color {self.color!r}; available: {', '.join(COLORS)}")
        if self.background is not None and self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; available: {', '.join(BACKGROUNDS)}")
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}; available: {', '.join(CATEGORIES)}")

    @property
    def text(self) -> str:
        noun = self.object if self.count == 1 else PLURALS[self.object]
        words = [self.color, noun] if self.color else [noun]
        if self.count == 1 and self.category != "count":
            words.insert(0, "an" if words[0][0] in "aeiou" else "a")
        else:
            words.insert(0, COUNT_WORDS[self.count])
        if self.background:
            words.append(BACKGROUNDS[self.background])
        return " ".join(words)

    @property
    def present_attributes(self) -> tuple[str, ...]:
        """Attributes that the prompt states (object and count always; color/background if given)."""
        attrs = ["count", "object"]
        if self.color:
            attrs.append("color")
        if self.background:
            attrs.append("background")
        return tuple(attrs)


_BACKGROUND_BY_PHRASE = {phrase: name for name, phrase in BACKGROUNDS.items()}
_OBJECT_BY_NOUN = {o: o for o in OBJECTS} | {p: o for o, p in PLURALS.items()}


def parse_prompt(text: str) -> PromptSpec:
    """Parse a prompt of the toy grammar back into a PromptSpec; raises ValueError with the reason."""
    original = text
    text = re.sub(r"\s+", " ", text.strip().lower().rstrip("."))
    background = None
    for phrase, name in _BACKGROUND_BY_PHRASE.items():
        if text.endswith(" " + phrase):
            background, text = name, text[: -len(phrase) - 1]
            break
    words = text.split(" ")
    if not words or words[-1] not in _OBJECT_BY_NOUN:
        raise ValueError(f"prompt {original!r} names no known object; objects: {', '.join(OBJECTS)}")
    obj = _OBJECT_BY_NOUN[words[-1]]
    rest = words[:-1]
    count = 1 if words[-1] == obj else None
    if rest and rest[0] in WORD_COUNTS:
        count, rest = WORD_COUNTS[rest[0]], rest[1:]
    if count is None:
        raise ValueError(f"prompt {original!r} uses a plural without a count word")
    color = None
    if rest and rest[0] in COLORS:
        color, rest = rest[0], rest[1:]
    if rest:
        raise ValueError(f"prompt {original!r} has words outside the toy grammar: {' '.join(rest)!r}")
    if not color and not background:
        category = "count"
    elif count == 1 and not (color and background):
        category = "color" if color else "background"
    else:
        category = "combination"
    return PromptSpec(object=obj, count=count, color=color, background=background, category=category)


def sample_prompt(
    rng: random.Random, category: str, objects: tuple[str, ...] = SEEN_OBJECTS, max_objects: int = 4
) -> PromptSpec:
    """Draw one prompt of `category` over `objects` (SEEN_OBJECTS for feedback, UNSEEN_OBJECTS for tests)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; available: {', '.join(CATEGORIES)}")
    obj = rng.choice(objects)
    if category == "count":
        return PromptSpec(obj, count=rng.randint(1, max_objects), category="count")
    if category == "color":
        return PromptSpec(obj, color=rng.choice(list(COLORS)), category="color")
    if category == "background":
        return PromptSpec(obj, background=rng.choice(list(BACKGROUNDS)), category="background")
    return PromptSpec(
        obj,
        count=rng.randint(1, max_objects),
        color=rng.choice(list(COLORS)),
        background=rng.choice(list(BACKGROUNDS)),
        category="combination",
    )


def perturb(
    spec: PromptSpec, attribute: str, rng: random.Random, objects: tuple[str, ...] = OBJECTS, max_objects: int = 4
) -> PromptSpec:
    """Swap one stated attribute for a different value (the perturbed prompts of Eq. 2)."""
    if attribute not in spec.present_attributes:
        raise ValueError(f"prompt {spec.text!r} does not state {attribute!r}; it states {spec.present_attributes}")
    if attribute == "count":
        return replace(spec, count=rng.choice([c for c in range(1, max_objects + 1) if c != spec.count]))
    if attribute == "object":
        return replace(spec, object=rng.choice([o for o in objects if o != spec.object]))
    if attribute == "color":
        return replace(spec, color=rng.choice([c for c in COLORS if c != spec.color]))
    return replace(spec, background=rng.choice([b for b in BACKGROUNDS if b != spec.background]))


def perturbed_prompts(spec: PromptSpec, n: int, rng: random.Random, max_objects: int = 4) -> list[PromptSpec]:
    """Up to `n` distinct perturbations of `spec`, each differing in exactly one stated attribute."""
    seen = {spec.text}
    out: list[PromptSpec] = []
    for _ in range(n * 20):
        if len(out) == n:
            break
        cand = perturb(spec, rng.choice(spec.present_attributes), rng, max_objects=max_objects)
        if cand.text not in seen:
            seen.add(cand.text)
            out.append(cand)
    return out
