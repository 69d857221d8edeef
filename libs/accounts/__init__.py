"""A customer account's own configuration, shared by switch_api (the operator, any customer)
and customer_api (the customer, only their own): SIP users, IP authentication entries, the sell
rates they are offered, and the validation rules these share.

Each service takes the request's unit of work and a :class:`~libs.liveconfig.ConfigPublisher`
(writes are published after the commit), and optionally a ``tenant``: the customer whose data
alone it may see. With a tenant, another customer's ids are "not found" — indistinguishable
from ids that do not exist — and list filters cannot widen the scope.

==================  ==============================================================
module              what it does
==================  ==============================================================
sip_users           :class:`SipUsers`: capacity and duplicate rules, HA1-only passwords
ip_auth             :class:`IpAuthEntries`: addresses, shared-address ambiguity rule
rates               :class:`SellRates`: the sell cards a customer's routes use, CSV
firewall            :func:`blocks_hitting_customer`: blocks on the account's own addresses
queries             :class:`AccountQueries`: the cross-table lookups (all SQL)
rules               validation and PATCH helpers
==================  ==============================================================
"""

from libs.accounts.ip_auth import IpAuthEntries, password_associated_data
from libs.accounts.queries import AccountQueries
from libs.accounts.sip_users import DUPLICATE_USER, NO_CAPACITY, SipUsers

__all__ = [
    "DUPLICATE_USER",
    "NO_CAPACITY",
    "AccountQueries",
    "IpAuthEntries",
    "SipUsers",
    "password_associated_data",
]
