"""Reward service: r_phi(x, z) behind gRPC Score/Rank with dynamic batching (issue 4).

config.py (settings), logic.py (pure: loading, validation, scoring; no Ray), deployment.py (Serve + gRPC).
"""
