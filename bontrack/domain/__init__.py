"""The pure domain core: dose arithmetic and safety rules.

Nothing here imports Django, reads the clock, the environment or files (bar the catalog's own
packaged data, read once through ``importlib.resources``). Time is passed in.
"""
