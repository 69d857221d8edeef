"""Roles: read/write rights per API area; built-in (owner, admin, read-only) and custom."""
