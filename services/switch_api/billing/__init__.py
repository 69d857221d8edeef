"""Billing: payments and adjustments, customers' ledgers, re-rating; the billing worker."""
