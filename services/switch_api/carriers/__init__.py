"""Carriers: where calls terminate — buy card, limits, timeouts, failover codes, gateways."""
