"""Failover policy: defaults per status class, carrier overrides, refusal of non-final codes."""

from __future__ import annotations

import pytest

from libs.routing import FailoverAction, InvalidConfig, InvalidStatus, next_action
from tests.routing.factories import carrier

SUCCESS, FAILOVER, STOP = FailoverAction.SUCCESS, FailoverAction.FAILOVER, FailoverAction.STOP


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, SUCCESS),
        (202, SUCCESS),
        (302, FAILOVER),  # a redirect is not followed to an unpriced destination
        (401, FAILOVER),
        (403, FAILOVER),  # the carrier refused; another may not
        (404, STOP),
        (408, FAILOVER),  # including sip_core's own timeouts, reported as 408
        (410, STOP),
        (480, FAILOVER),
        (484, STOP),
        (486, STOP),
        (487, STOP),
        (488, FAILOVER),
        (500, FAILOVER),
        (502, FAILOVER),
        (503, FAILOVER),
        (504, FAILOVER),
        (600, STOP),
        (603, STOP),
        (604, STOP),
        (606, STOP),
    ],
)
def test_defaults(status: int, action: FailoverAction) -> None:
    assert next_action(status) is action
    assert next_action(status, carrier("a")) is action  # a carrier without overrides


def test_a_carriers_lists_override_the_defaults() -> None:
    picky = carrier("a", failover_codes=frozenset({404, 486}), stop_codes=frozenset({503, 408}))
    assert next_action(404, picky) is FAILOVER
    assert next_action(486, picky) is FAILOVER
    assert next_action(503, picky) is STOP
    assert next_action(408, picky) is STOP
    assert next_action(487, picky) is STOP  # not listed: the default
    assert next_action(500, picky) is FAILOVER
    assert next_action(200, picky) is SUCCESS


def test_a_code_cannot_be_both_failover_and_stop() -> None:
    with pytest.raises(InvalidConfig, match="both"):
        carrier("a", failover_codes=frozenset({503}), stop_codes=frozenset({503}))


@pytest.mark.parametrize(
    "codes", [frozenset({200}), frozenset({180}), frozenset({700}), frozenset({"503"})]
)
def test_override_lists_hold_final_error_codes_only(codes: frozenset[int]) -> None:
    with pytest.raises(InvalidConfig):
        carrier("a", stop_codes=codes)


@pytest.mark.parametrize("status", [100, 180, 183, 199, 99, 700, 0, -1, "503", 503.0])
def test_non_final_statuses_are_refused(status: object) -> None:
    with pytest.raises(InvalidStatus):
        next_action(status)  # type: ignore[arg-type]
