"""mlrelease: a release manager for machine-learning models, with git as the system of record."""

__version__ = "0.1.0"
