"""Meeting teams where their models already are: MLflow's registry and GTO's git tags.

``mlflow_api`` is a small REST client (httpx, imported lazily) shared by the ``mlflow``
backend and ``mlrelease import mlflow``. ``import gto`` reads GTO's tags with plain git
(``gto_tags``), replays GTO's rules (``gto_replay``) and writes one commit per tag
(``gto_files``, ``gto_chain``). Nothing here is imported by commands that do not use it.
"""
