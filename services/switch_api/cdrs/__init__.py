"""Call detail records: every call, rated; filters, CSV export and traffic summaries."""
