"""Nodes: the live sip_core and rtp_relay instances, as their heartbeats announce them."""
