"""Firewall: block, allow or trust (no flood protection) addresses and networks, optionally
until an expiry; changes reach every sip_core within a second, and so do expiries."""
