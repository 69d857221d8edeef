"""Tandem's platform helpers: running the bundled processes of the embedded deployment."""
