"""The model view's tabs, one widget each (versions, trend, lineage, history, telemetry, drift).

:class:`mlrelease.tui.screens.model.ModelScreen` holds the model's data and the tab bar;
each pane here draws one tab, reads what only it needs in its own thread worker and
gets the result back as a Message. The versions tab is mounted with the view;
each other tab the first time it is shown.
"""
