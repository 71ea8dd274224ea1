"""The kernel every layer may import, and which imports nothing of bontrack's: the service
errors (``errors``), the client's address (``addresses``), the one CSV writer and CSV responses
(``csvfiles``), and what every edge checks of a text (``fields``)."""
