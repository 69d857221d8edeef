"""Global settings: platform call limit, flood and authentication-failure thresholds, default
timeouts and the SIP realm (one object)."""
