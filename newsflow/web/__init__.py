"""`newsflow web`: a small, read-only, server-rendered search page over the configured index."""
