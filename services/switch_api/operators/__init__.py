"""Operators: the people who administer the switch (TOTP mandatory), their roles and lockouts."""
