import random

import numpy as np
import pytest

from t2ialign.evaluation.oracle_check import check_oracle
from t2ialign.toyworld.grammar import OBJECTS, PromptSpec, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.render import layout_scene, render


def test_render_is_deterministic_per_seed():
    spec = PromptSpec("triangle", count=3, color="blue", background="city")
    a, b, c = render(spec, 7), render(spec, 7), render(spec, 8)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_render_64_takes_more_objects():
    spec = PromptSpec("circle", count=6, color="red", background="snow")
    img = render(spec, 0, size=64)
    assert img.shape == (64, 64, 3)
    assert Oracle().judge(img, spec).match
    with pytest.raises(ValueError, match="do not fit"):
        render(spec, 0, size=32)


def test_open_attributes_are_drawn_from_the_seed():
    spec = PromptSpec("ring", count=2, category="count")
    scenes = {(layout_scene(spec, s).color, layout_scene(spec, s).background) for s in range(40)}
    assert len(scenes) > 5


def test_oracle_meets_its_accuracy_bar_on_fresh_renders():
    result = check_oracle(n=300, seed=11)
    assert result["accept"] >= 0.99
    assert all(r >= 0.99 for r in result["reject"].values()), result


def test_oracle_describes_what_it_sees():
    spec = PromptSpec("cross", count=4, color="purple", background="grass")
    v = Oracle().describe(render(spec, 3))
    assert (v.count, set(v.objects), set(v.colors), v.background) == (4, {"cross"}, {"purple"}, "grass")


def test_oracle_rejects_noise_and_blank_images():
    oracle, rng = Oracle(), np.random.default_rng(0)
    spec = PromptSpec("circle", count=1, color="red", background="snow")
    assert not oracle.judge(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), spec).match
    assert not oracle.judge(np.full((32, 32, 3), 128, np.uint8), spec).match


def test_oracle_rejects_a_malformed_shape():
    img = render(PromptSpec("square", count=1, color="green", background="night"), 5)
    img[8:24, 8:24] = (40, 170, 60)
    img[10:12, 4:28] = (40, 170, 60)  # a green blob of no known shape
    v = Oracle().judge(img, "a green square at night")
    assert not v.match


def test_oracle_checks_only_what_the_prompt_states():
    rng, oracle = random.Random(4), Oracle()
    for _ in range(30):
        spec = sample_prompt(rng, "count", OBJECTS)
        assert oracle.judge(render(spec, rng.getrandbits(31)), spec).match


def test_oracle_reads_a_background_tinted_toward_an_object_color_as_background():
    # Generated grass drifts toward the object green; the lawn must not become one giant "green object".
    spec = PromptSpec("circle", color="blue", background="grass", category="combination")
    image = render(spec, seed=3)
    lawn = np.linalg.norm(image.astype(float) - np.array([40, 90, 230]), axis=-1) > 90  # not the blue circle
    tinted = image.copy()
    tinted[lawn] = (60, 165, 65)  # within the object green's reach, nearest background color: grass
    assert Oracle(tinted_backgrounds=True).judge(tinted, spec).match
    assert not Oracle(tinted_backgrounds=False).judge(tinted, spec).match
