"""The auditor's side: ``mlrelease verify`` and the marks every face shows from it.

:mod:`~mlrelease.audit.walk` reads the registry's history once (commits, their
changes and trailers); :mod:`~mlrelease.audit.verify` replays it and checks each change
of a release state, approvals, rejections and retraining requests against the action
its trailers claim, the signatures where signing is required and the gates recomputed
at that commit; :mod:`~mlrelease.audit.marks` turns the findings into the words
``history``, ``list`` and the TUI show beside events and states;
:mod:`~mlrelease.audit.acceptances` and :mod:`~mlrelease.audit.accepting` let a second
person accept a finding on the record (``review --finding``), which verify checks like
every other change and then lists as accepted. See docs/controls.md.
"""
