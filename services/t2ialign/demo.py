"""`make demo` / `t2ialign demo`: the embedded default, end to end, on the shipped toy models.

1. Generate an image grid from the shipped base model (no training step needed).
2. Measure its oracle alignment per category.
Output goes to runs/demo/ and the paths are printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from t2ialign.evaluation.alignment import evaluate_alignment, load_generator
from t2ialign.evaluation.grids import save_grid

DEMO_PROMPTS = [
    "three circles",
    "a red square",
    "a triangle in the snow",
    "two blue crosses on the grass",
    "four yellow rings at night",
    "a purple diamond in the city",
]


def run_demo(out_dir: str | Path = "runs/demo", quick: bool = True) -> dict:
    out_dir = Path(out_dir)
    t0 = time.time()
    print("1. generating an image grid from the shipped base model …", flush=True)
    pipe = load_generator("base")
    rows = [pipe(p, num_images=8, seed=i) for i, p in enumerate(DEMO_PROMPTS)]
    grid = save_grid(rows, DEMO_PROMPTS, out_dir / "base_grid.png")
    print(f"   wrote {grid}")
    print("2. oracle alignment of the base model (seen and unseen prompts) …", flush=True)
    alignment = evaluate_alignment(pipe, prompts_per_category=8 if quick else 16, images_per_prompt=4)
    (out_dir / "base_alignment.json").write_text(json.dumps(alignment, indent=2))
    print(json.dumps(alignment, indent=2))
    print(f"done in {time.time() - t0:.0f} s; results in {out_dir}/")
    return alignment
