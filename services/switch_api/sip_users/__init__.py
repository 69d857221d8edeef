"""SIP users: a customer's digest-authenticated accounts (passwords kept only as HA1 hashes)."""
