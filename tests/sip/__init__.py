"""Tests of the SIP core's sans-I/O codec (services.sip_core.sip)."""
