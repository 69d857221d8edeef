"""Your SIP users: digest accounts within your channel capacity (passwords shown once)."""
