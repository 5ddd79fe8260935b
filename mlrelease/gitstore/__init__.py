"""Where mlrelease writes to git: objects, commits, pushes and the commit-and-push loop.

Below both the release service and the backends (the gitops-file backend commits to a
repository of its own with the same plumbing), above the registry's read side
(:mod:`mlrelease.registry.gitio`). ``objects`` writes commits in process, ``gitwrite``
commits, pushes, fetches and judges pushes, ``transaction`` runs one change against a
branch tip under the lock until it lands.
"""
