"""Clients of other systems' APIs, below the backends and the imports that both use them.

``mlflow``: MLflow's model-registry REST API (the ``mlflow`` backend moves aliases with
it; ``mlrelease import mlflow`` reads whole registries with it); ``mlflow_connection``:
where the server is and the credentials, with the URI policy. Keeping them here, not in
``interop`` or ``backends``, is what lets each of those import them without the other.
"""
