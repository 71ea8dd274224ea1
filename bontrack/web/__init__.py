"""The clinician's pages: server-rendered Django templates with htmx partials (DESIGN 1, 4)."""
