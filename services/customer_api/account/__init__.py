"""Your account: balance, credit, currency, limits and the channels in use."""
