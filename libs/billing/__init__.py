"""Billing: rating CDRs, the ledger, balances exactly once, and the queries over them.

Shared by switch_api (operators: every customer) and customer_api (one customer's own data),
and run as the billing worker (``python -m services.switch_api.billing``).

=============  ==================================================================
module         what it does
=============  ==================================================================
rating         a CDR's charge (sell rate) and cost (buy rate): pure functions
cards          card terms and buy rates the CDR does not carry, cached per batch
ledger         :func:`post`: balances moved atomically, an entry per change
ingest         a batch of CDRs stored and charged once (``ON CONFLICT``)
worker         the JetStream consumer: one transaction per batch, ack after commit
balances       the ``balance`` config objects, published newest-version-wins
cdrs           CDR filters, keyset pages, CSV export, summaries
accounts       payments, adjustments and ledger listings
rerate         re-rating a time range after a rate fix
errors         the exception tree, rooted at :class:`BillingError`
=============  ==================================================================
"""

from libs.billing.errors import BillingError, InvalidAdjustment, UnknownCustomer

__all__ = ["BillingError", "InvalidAdjustment", "UnknownCustomer"]
