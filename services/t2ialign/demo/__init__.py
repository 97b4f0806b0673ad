"""`make demo` / `t2ialign demo`: one round of the paper's loop through the running services (README.md, "make demo").

run.py starts what `t2ialign serve` starts, draws before-grids, runs a round through the coordinator (simulated
raters, the trainer, the evaluation gate, a hot-swap on every generator replica), draws after-grids and writes
the summary; watch.py shows the round's progress and keeps Generate calls flowing through the promotion;
report.py turns it all into a table, report.html and before_after.png.
"""

from t2ialign.demo.run import run_demo

__all__ = ["run_demo"]
