"""Lookup datasets (LRN, CNAM, do-not-call lists) and API keys' access to lookup_api."""
