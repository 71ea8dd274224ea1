"""Self-pay work: the clinic's price list, invoices of cosmetic sessions, payments and refunds, the
day's takings (docs/billing.md)."""
