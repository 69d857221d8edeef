"""The audit log: every write through the APIs and every login attempt, searchable."""
