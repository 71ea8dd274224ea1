"""Claims for medical sessions: charge sets captured at signing, coverage, superbills, claims files
(docs/billing.md)."""
