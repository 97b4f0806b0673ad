"""Trainer service: reward-model training and UNet fine-tuning as jobs on Ray Train (issue 19).

config.py (settings), jobs.py (job records in the object store), specs.py (request validation), tasks.py
(what one training worker does, with the library of training/), workers.py (the Ray Train worker loop),
runner.py (a detached actor per job), deployment.py (Serve + gRPC TrainerService). Only workers.py,
runner.py and deployment.py import Ray.
"""
