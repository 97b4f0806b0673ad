import random

import numpy as np

from t2ialign.toyworld.corpus import CaptionNoise, corpus_batch
from t2ialign.toyworld.grammar import OBJECTS, UNSEEN_OBJECTS, parse_prompt, sample_prompt
from t2ialign.toyworld.oracle import Oracle
from t2ialign.toyworld.raters import RaterConfig, SimulatedRaters
from t2ialign.toyworld.render import render


def _rated_batch(n: int = 600):
    rng = random.Random(0)
    specs = [sample_prompt(rng, "combination") for _ in range(n)]
    # half the images match their prompt, half show another scene
    images = np.stack([render(s if i % 2 else sample_prompt(rng, "combination"), i) for i, s in enumerate(specs)])
    truth = Oracle().judge_batch(images, specs)
    return images, specs, truth


def test_simulated_raters_flip_and_skip_at_the_configured_rates():
    images, specs, truth = _rated_batch()
    labels = SimulatedRaters(seed=1).rate(images, specs)
    skipped = np.mean([lab is None for lab in labels])
    rated = [(lab, t) for lab, t in zip(labels, truth, strict=True) if lab is not None]
    flipped = np.mean([lab != int(t) for lab, t in rated])
    assert 0.02 < skipped < 0.09
    assert 0.06 < flipped < 0.15


def test_simulated_raters_are_seeded():
    images, specs, _ = _rated_batch(60)
    assert SimulatedRaters(seed=5).rate(images, specs) == SimulatedRaters(seed=5).rate(images, specs)
    assert SimulatedRaters(seed=5).rate(images, specs) != SimulatedRaters(seed=6).rate(images, specs)


def test_noise_free_raters_equal_the_oracle():
    images, specs, truth = _rated_batch(90)
    labels = SimulatedRaters(RaterConfig(flip_rate=0, skip_rate=0)).rate(images, specs)
    assert labels == [int(t) for t in truth]


def test_corpus_captions_are_noisy_like_web_captions():
    images, captions, scenes = corpus_batch(random.Random(0), 400)
    assert images.shape == (400, 32, 32, 3)
    wrong_count = counted_groups = missing_color = 0
    for cap, scene in zip(captions, scenes, strict=True):
        words = cap.split()
        missing_color += scene.color not in words
        if scene.count == 1:  # a lone object is always "a ..."; groups are never called "a ..."
            assert words[0] in ("a", "an"), cap
            continue
        assert words[0] not in ("a", "an"), cap
        if words[0] in ("two", "three", "four"):  # else: a plural with no count word
            counted_groups += 1
            wrong_count += parse_prompt(cap).count != scene.count
    assert 0.25 < wrong_count / counted_groups < 0.55
    assert 0.15 < missing_color / 400 < 0.35


def test_corpus_includes_unseen_objects():
    _, _, scenes = corpus_batch(random.Random(1), 300)
    assert set(UNSEEN_OBJECTS) <= {s.object for s in scenes} == set(OBJECTS)


def test_clean_captions_match_their_images():
    images, captions, _ = corpus_batch(random.Random(2), 100, noise=CaptionNoise(0, 0, 0, 0))
    assert Oracle().judge_batch(images, captions).all()
