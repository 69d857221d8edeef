"""Live calls: the calls in progress on every sip_core node, and hanging one up."""
