"""The read side: load a registry from a work tree or any git ref, check it, compare it.

Nothing in this package imports Textual or httpx; the headless CLI stays fast and the
import-hygiene test keeps it so.
"""
