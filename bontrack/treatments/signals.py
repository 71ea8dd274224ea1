"""What other apps may attach to the treatment services without the services knowing them.

``session_signed`` is sent inside the signing transaction, holding the patient's lock, after the
signature and the stock are written: a receiver's writes commit or roll back with the signature,
and it records them in the same audit ``trail``."""

from django.dispatch import Signal

# Arguments: session (the signed TreatmentSession), trail (its AuditTrail).
session_signed = Signal()
