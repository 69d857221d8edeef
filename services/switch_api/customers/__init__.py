"""Customers: the operator's accounts, their money and their limits."""
