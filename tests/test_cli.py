"""The `t2ialign` command line: every documented command line parses to its command, the parser is built
without torch (so `t2ialign --help` is instant), and the names it offers match the library's."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from t2ialign.cli import build_parser
from t2ialign.paths import REPO_ROOT

# The README's and docs/DEPLOY.md's command lines (and the Makefile's `t2ialign demo`), each with the function
# it must reach.
DOCUMENTED = [
    ('generate "two red circles in the desert" --out grid.png --sampler dpm++', "cmd_generate"),
    ("eval --model base --prompts-per-category 16 --images-per-prompt 4 --json", "cmd_eval"),
    ("world check-oracle --n 2000 --json", "cmd_check_oracle"),
    ("world clip-zero-shot --json", "cmd_clip_zero_shot"),
    ("pretrain clip --resume --max-minutes 5", "cmd_pretrain"),
    ("pretrain generator --init-from weights/toy/generator/unet --tiny", "cmd_pretrain"),
    ("reproduce --quick --json", "cmd_reproduce"),
    ("reproduce --preset rounds --seed 1 --json --out runs/rounds_s1", "cmd_reproduce"),
    ("serve --host 0.0.0.0 --backend toy --check", "cmd_serve"),
    ('store upload weights/toy/clip models/toy/clip --store "s3://t2ialign?endpoint=localhost:9000"', "cmd_upload"),
    ("store ls models/ --store data/store", "cmd_ls"),
    ("demo --out runs/demo", "cmd_demo"),
]


@pytest.mark.parametrize("line, command", DOCUMENTED)
def test_documented_command_lines_parse(line: str, command: str) -> None:
    args = build_parser().parse_args(shlex.split(line))
    assert args.func.__name__ == command


def test_parsed_values_reach_the_command() -> None:
    args = build_parser().parse_args(shlex.split("reproduce --preset rounds --seed 1 --out runs/x"))
    assert (args.preset, args.seed, str(args.out), args.quick, args.json) == ("rounds", 1, "runs/x", False, False)
    args = build_parser().parse_args(["eval"])
    assert (args.prompts_per_category, args.images_per_prompt, args.seed, args.sampler) == (16, 4, 1234, None)


def test_bad_choices_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for line in ("reproduce --preset huge", "generate a --sampler plms", "pretrain vae"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(shlex.split(line))
        assert "invalid choice" in capsys.readouterr().err


def test_cli_names_match_the_library() -> None:
    from t2ialign.cli.reproduce import PRESET_NAMES
    from t2ialign.evaluation.presets import PRESETS

    assert sorted(PRESET_NAMES) == sorted(PRESETS)  # SAMPLERS: tests/models/test_recipes.py


def test_building_the_parser_loads_no_model_code() -> None:
    code = (
        "import sys, json; from t2ialign.cli import build_parser; build_parser(); "
        "print(json.dumps([m for m in ('torch', 'open_clip', 'diffusers', 'ray') if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "services")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
