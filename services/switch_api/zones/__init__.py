"""Zones: where sip_core and rtp_relay nodes run; media stays in the caller's nearest zone."""
