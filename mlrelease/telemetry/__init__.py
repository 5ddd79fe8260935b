"""Live figures of released models, and what they mean: drift, decay, health, retraining due.

Sources (``file``, ``http-json``, ``prometheus`` and any plugin in the
``mlrelease.telemetry`` entry-point group) all return :class:`~mlrelease.registry.types.Telemetry`,
so drift, policy and health never know where the figures came from. Nothing here
imports Textual, and httpx is imported only when an HTTP source fetches.
"""
