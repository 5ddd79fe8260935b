"""Meeting teams where their models already are: MLflow's registry and GTO's git tags.

``import mlflow`` reads a registry through :mod:`mlrelease.clients.mlflow` (the REST
client the ``mlflow`` backend uses too) and turns each version into a manifest
(``mlflow_manifest``). ``import gto`` reads GTO's tags with plain git (``gto_tags``),
replays GTO's rules (``gto_replay``) and writes one commit per tag (``gto_files``,
``gto_chain``). Nothing here is imported by commands that do not use it.
"""
