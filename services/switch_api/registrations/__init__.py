"""Registrations: where SIP users are registered now (read from the sip_core nodes' shared
bindings), and SIP MESSAGEs an operator sends to a registered user's phones."""
