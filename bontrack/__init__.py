"""bontrack: plan, check, record and follow up botulinum toxin treatments."""

__version__ = "0.1.0"
