"""Evaluation on the toy world: oracle alignment, panels, fidelity, diversity, reward-model accuracy."""
