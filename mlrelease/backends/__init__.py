"""Backends: discovered through entry points, created by name from mlrelease.yaml."""
