"""Interoperability: the FHIR R4 read API (``fhir.py`` maps rows to resources, ``fhir_reads.py``
reads them through the access funnels, ``fhir_views.py`` serves them at /fhir)."""
