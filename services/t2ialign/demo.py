"""`make demo` / `t2ialign demo`: the embedded default, end to end, on the shipped toy models.

1. Generate an image grid from the shipped base model (no training step needed).
2. Run the paper's whole loop at the quick size (`t2ialign reproduce --quick`): collect simulated
   feedback, train the reward model, fine-tune the UNet by reward-weighted likelihood, evaluate
   base / fine-tuned / best-of-16 and write the report (HTML with image grids and plots).
Output goes to runs/demo/; the paths are printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from t2ialign.evaluation.grids import save_grid
from t2ialign.evaluation.presets import quick_config
from t2ialign.evaluation.reproduce import reproduce
from t2ialign.models.loading import load_generator

DEMO_PROMPTS = [
    "three circles",
    "a red square",
    "a triangle in the snow",
    "two blue crosses on the grass",
    "four yellow rings at night",
    "a purple diamond in the city",
]


def run_demo(out_dir: str | Path = "runs/demo") -> dict:
    out_dir = Path(out_dir)
    t0 = time.time()
    print("1. image grid from the shipped base model …", flush=True)
    pipe = load_generator("base")
    rows = [pipe(p, num_images=8, seed=i) for i, p in enumerate(DEMO_PROMPTS)]
    print(f"   wrote {save_grid(rows, DEMO_PROMPTS, out_dir / 'base_grid.png')}")
    print("2. the alignment loop (feedback -> reward model -> fine-tuning -> evaluation), quick size …", flush=True)
    results = reproduce(quick_config(), out_dir / "loop")
    print(json.dumps(results["headline"], indent=2))
    print(f"done in {time.time() - t0:.0f} s")
    print(f"report: {out_dir / 'loop' / 'report.html'}  (markdown: {out_dir / 'loop' / 'report.md'})")
    return results
