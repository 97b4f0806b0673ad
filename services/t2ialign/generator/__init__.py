"""Generator service: text-to-image with serve-time reward filtering and UNet hot-swap (issue 4).

config.py (settings), backends.py (toy / Stable Diffusion registry), logic.py (pure: validation, generation,
best-of-n selection, storing, hot-swap; no Ray), deployment.py (Serve + gRPC).
"""
