"""Your calls in progress, on every switch node; hang one up."""
