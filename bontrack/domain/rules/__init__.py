"""Safety rules, one module per family of DESIGN.md 3.2; ``check.evaluate`` runs them all."""
