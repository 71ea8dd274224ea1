"""Small kernels every edge shares (the one CSV writer, the field checks); they import nothing of
bontrack's, so any layer may use them."""
