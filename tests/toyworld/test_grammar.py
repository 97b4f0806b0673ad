import random

import pytest

from t2ialign.toyworld.grammar import (
    ATTRIBUTES,
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


def test_world_sizes_meet_the_design():
    assert len(OBJECTS) >= 5 and len(COLORS) >= 6 and len(BACKGROUNDS) >= 5
    assert UNSEEN_OBJECTS and not set(UNSEEN_OBJECTS) & set(SEEN_OBJECTS)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (PromptSpec("circle", count=3, category="count"), "three circles"),
        (PromptSpec("circle", count=1, category="count"), "one circle"),
        (PromptSpec("cross", color="orange", category="color"), "an orange cross"),
        (PromptSpec("ring", background="night", category="background"), "a ring at night"),
        (PromptSpec("cross", count=2, color="red", background="desert"), "two red crosses in the desert"),
    ],
)
def test_prompt_text_follows_the_papers_grammar(spec, text):
    assert spec.text == text
    assert parse_prompt(text) == spec


def test_every_sampled_prompt_round_trips_through_the_parser():
    rng = random.Random(0)
    for cat in CATEGORIES:
        for _ in range(50):
            spec = sample_prompt(rng, cat)
            assert spec.category == cat
            assert parse_prompt(spec.text) == spec


def test_feedback_prompts_never_use_unseen_objects():
    rng = random.Random(1)
    objs = {sample_prompt(rng, c).object for c in CATEGORIES for _ in range(200)}
    assert objs == set(SEEN_OBJECTS)


@pytest.mark.parametrize("bad", ["", "   ", "a dog", "three", "two red", "circles", "a red circle on the moon"])
def test_parser_rejects_prompts_outside_the_grammar(bad):
    with pytest.raises(ValueError):
        parse_prompt(bad)


def test_spec_validation_lists_alternatives():
    with pytest.raises(ValueError, match="available: circle"):
        PromptSpec("dog")


@pytest.mark.parametrize("attr", ATTRIBUTES)
def test_perturb_changes_exactly_one_attribute(attr):
    rng = random.Random(2)
    spec = sample_prompt(rng, "combination")
    for _ in range(30):
        out = perturb(spec, attr, rng)
        diffs = [a for a in ("count", "color", "object", "background") if getattr(out, a) != getattr(spec, a)]
        assert diffs == [attr]


def test_perturb_refuses_unstated_attributes():
    with pytest.raises(ValueError, match="does not state 'color'"):
        perturb(PromptSpec("circle", count=2, category="count"), "color", random.Random(0))


def test_perturbed_prompts_are_distinct_and_exclude_the_original():
    spec = PromptSpec("square", count=2, color="blue", background="snow")
    outs = perturbed_prompts(spec, 9, random.Random(3))
    texts = [o.text for o in outs]
    assert len(texts) == 9 and len(set(texts)) == 9 and spec.text not in texts
