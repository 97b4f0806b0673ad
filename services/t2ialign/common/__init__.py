"""Plumbing shared by the ML code and the services: manifests, logging, image helpers."""
