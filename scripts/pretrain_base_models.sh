#!/usr/bin/env bash
# Base-model recipes, run in the background. Resumes from checkpoints.
set -e
export PYTHONPATH=services PYTHONUNBUFFERED=1
.venv/bin/t2ialign pretrain clip --resume --max-minutes 12 > runs/clip.log 2>&1
.venv/bin/t2ialign pretrain generator --resume --max-minutes 85 > runs/generator.log 2>&1
echo done > runs/pretrain.done
