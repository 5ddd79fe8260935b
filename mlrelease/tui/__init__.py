"""The Textual face: screens, widgets and styles over the same services as the CLI.

Nothing outside this package imports it, except the ``tui`` and ``demo`` commands when
they run: the headless commands never pay for Textual.
"""
