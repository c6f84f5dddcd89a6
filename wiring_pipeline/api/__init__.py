"""The HTTP API (DESIGN section 4a): the source plan's endpoint, on the domain functions."""
