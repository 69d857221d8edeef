"""Customer users: the people of a customer who log in to customer_api (TOTP optional)."""
