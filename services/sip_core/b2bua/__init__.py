"""Call logic and policy of the B2BUA (authentication, limits, routing, CDRs)."""
