"""Your balance history: payments, call charges, credits and debits."""
