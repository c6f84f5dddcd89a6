"""The `wiring-pipeline` command line: thin click commands over the domain functions."""
