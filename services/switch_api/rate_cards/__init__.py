"""Rate cards: sell and buy prices, in dated revisions (scheduled, in effect, kept), with CSV
and open rate-card JSON imports and streamed CSV exports."""
