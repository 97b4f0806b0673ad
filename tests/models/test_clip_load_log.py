"""Loading a saved CLIP does not print open_clip's "initialized randomly" warning (weights follow at once); a
CLIP that really is random still gets it, and nothing else is silenced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from t2ialign.models.clip import ClipBackbone, weights_follow

TINY = "t2ialign-tiny-test-clip"
RANDOM_INIT = f"No pretrained weights loaded for model '{TINY}'"


def random_init_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(RANDOM_INIT)]


def test_loading_saved_weights_shows_no_random_init_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ClipBackbone(TINY).save(tmp_path / "clip")
    assert len(random_init_warnings(caplog)) == 1  # a fresh model is random: the warning is true then
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        ClipBackbone.load(tmp_path / "clip")
    assert random_init_warnings(caplog) == []
    assert logging.getLogger().filters == []  # the filter is gone after loading


def test_only_that_record_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), weights_follow(TINY):
        logging.warning("No pretrained weights loaded for model 'another-model'. Model initialized randomly.")
        logging.warning("something else")
        logging.getLogger("open_clip").warning(RANDOM_INIT + ". (from a named logger)")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3 and "something else" in messages
