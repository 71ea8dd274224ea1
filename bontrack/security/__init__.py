"""Sign-in policy, sessions, re-authentication, break-glass, audit reports, patient requests to
amend, and the production settings check (issue 8; docs/security.md maps each to its standard)."""
