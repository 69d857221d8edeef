"""Where your SIP users are registered now: each binding (a contact your phone or PBX
registered), read from the switch nodes' shared registrations."""
