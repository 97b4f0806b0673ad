#!/usr/bin/env bash
# Base-model recipes, run in the background; each resumes from its checkpoint (weights/toy/*-checkpoint/).
# The shipped weights came from these recipes on a 2-core CPU: CLIP 1,000 steps (~20 min). Generator:
# 5,600 steps as an epsilon-prediction UNet (~2.5 h over two sessions), then warm-started into the current
# v-prediction UNet with a pooled-text embedding and trained on with a cosine decay (2,999 steps, 92 min),
# then once more from that UNet (as shipped at commit f5d4e83) in a fresh cosine cycle (2,400 steps, ~72 min):
#   git archive ddf92dd weights/toy/generator | tar -x -C /tmp/eps    # the epsilon UNet, as shipped then
#   .venv/bin/t2ialign pretrain generator --init-from /tmp/eps/weights/toy/generator/unet --steps 3300 --max-minutes 92
#   git archive f5d4e83 weights/toy/generator | tar -x -C /tmp/v1     # the result of the line above
#   .venv/bin/t2ialign pretrain generator --init-from /tmp/v1/weights/toy/generator/unet --steps 2400
# From scratch, the recipe below trains the current UNet directly (not measured to the same quality).
# Continue the generator in a later session without the checkpoint:
#   .venv/bin/t2ialign pretrain generator --init-from weights/toy/generator/unet --max-minutes N
set -e
export PYTHONUNBUFFERED=1
mkdir -p runs
.venv/bin/t2ialign pretrain clip --resume --max-minutes 25 > runs/clip.log 2>&1
.venv/bin/t2ialign pretrain generator --resume --max-minutes 150 > runs/generator.log 2>&1
# The shipped r_phi: 10 of the recipe's 18 chunks (800 rated images) in a 38-minute budget on a loaded 2-core CPU
# (docs/REWARD_MODEL.md); --resume continues the pool, --resume --max-minutes 0 retrains on it as it is.
.venv/bin/t2ialign pretrain reward --resume --max-minutes 40 > runs/reward.log 2>&1
echo done > runs/pretrain.done
