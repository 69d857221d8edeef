"""Parameter rewrite rules: destination and CLI rewrites of an IP authentication entry or a
SIP user (prefixes or RE2 regular expressions), and a test action showing every step."""
