"""The charting services: the only code that writes the charting app's rows (and, through
``record_consent`` and ``plan_session``, the consents and plans they create). Each write checks
access through the funnels and appends its audit entries in the same transaction."""
