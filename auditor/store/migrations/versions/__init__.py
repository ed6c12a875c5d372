"""One module per schema revision, oldest first (a package so that wheels carry them)."""
