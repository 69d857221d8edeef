"""Factories for the security tests: small key rings and a cheap password service."""

from __future__ import annotations

import pytest

from libs.security import ArgonCost, PasswordService, Pepper, PepperRing


def pepper_ring(current: str = "p1", *older: str) -> PepperRing:
    """A ring of freshly generated peppers with these ids, the first one current."""
    return PepperRing(Pepper.generate(current), [Pepper.generate(key_id) for key_id in older])


@pytest.fixture
def peppers() -> PepperRing:
    return pepper_ring()


@pytest.fixture
def service(peppers: PepperRing) -> PasswordService:
    return PasswordService(peppers, ArgonCost.cheap())
