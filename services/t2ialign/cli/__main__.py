"""`python -m t2ialign.cli ...`, the same as `t2ialign ...`."""

from t2ialign.cli import main

main()
