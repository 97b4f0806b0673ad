"""Gateway: the public REST API (FastAPI) for product backends, in front of the reward and generator services.

config.py (settings), api.py (pure FastAPI app over a `Backends` protocol; no Ray), deployment.py (Serve ingress
whose backends are DeploymentHandles).
"""
