"""The model view's tabs, one widget each (versions, trend, lineage, history, telemetry, drift).

:class:`mlrelease.tui.screens.model.ModelScreen` holds the model's data and the tab bar;
each pane here draws one tab, reads what only it needs in its own thread worker and
gets the result back as a Message. All but the first shown are mounted lazily
(Textual's ``Lazy``), after the view's first frame.
"""
