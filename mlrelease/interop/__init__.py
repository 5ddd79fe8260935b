"""Meeting teams where their models already are: MLflow's registry and GTO's git tags.

``mlflow_api`` is a small REST client (httpx, imported lazily) shared by the ``mlflow``
backend and ``mlrelease import mlflow``; ``gto_import`` reads GTO tags with plain git.
Nothing here is imported by commands that do not use it.
"""
