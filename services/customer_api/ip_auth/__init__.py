"""Your IP authentication entries (editable where your operator allows it)."""
