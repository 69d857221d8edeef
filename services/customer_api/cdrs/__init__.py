"""Your calls: what each cost; filters, CSV export, summaries per destination and day."""
