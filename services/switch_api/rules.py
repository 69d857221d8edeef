"""The validation and update helpers, shared with customer_api (see :mod:`libs.accounts.rules`)."""

from libs.accounts.rules import (
    apply_changes,
    changes_of,
    invalid,
    normalise_network,
    normalise_networks,
    valid_host_name,
)

__all__ = [
    "apply_changes",
    "changes_of",
    "invalid",
    "normalise_network",
    "normalise_networks",
    "valid_host_name",
]
