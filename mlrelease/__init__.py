"""mlrelease: a release manager for machine-learning models, with git as the system of record."""

from mlrelease import codecache

__version__ = "0.1.0"

codecache.install()  # before any module of mlrelease defines its dataclasses
