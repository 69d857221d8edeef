"""Fixtures for identity tests: switch_api and customer_api with a fake clock."""

from tests.apps import (
    _apps,
    clock,
    customer,
    customer_app,
    identity_config,
    shared_clock,
    switch,
    switch_app,
)

__all__ = [
    "_apps",
    "clock",
    "customer",
    "customer_app",
    "identity_config",
    "shared_clock",
    "switch",
    "switch_app",
]
