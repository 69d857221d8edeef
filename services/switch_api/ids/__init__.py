"""Intrusion detection (issue 8): sip_core's security events become automatic firewall blocks.

- :mod:`.detector` — :class:`ThreatDetector`, the sans-I/O rules (thresholds, enumeration,
  scanners, floods).
- :mod:`.service` — :class:`IdsService`, storing a block (or withholding it for a protected
  address) through the firewall repository and publishing it as live configuration.
- :mod:`.worker` — :class:`IdsWorker`, the durable consumer of the ``SECURITY`` stream.

Run it with ``python -m services.switch_api.ids`` (``tandem up`` starts it; in Kubernetes the
``ids`` Deployment).
"""
