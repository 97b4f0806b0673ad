"""Plumbing shared by the serving folders (reward, generator, gateway, client): limits, errors, image codec,
API keys, the object-store adapter, and the Ray Serve app builder (`app.py`, the only module here that imports
Ray). ML code (models/, training/, evaluation/, toyworld/) never imports this package.
"""
