"""Longest-prefix match: overlaps, catch-all, empty index, refusal of non-digits, a reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.routing import (
    MAX_PREFIX_LENGTH,
    DuplicatePrefix,
    InvalidNumber,
    InvalidPrefix,
    PrefixIndex,
)

OVERLAPPING = PrefixIndex(
    [
        ("4", "zone 4"),
        ("44", "UK"),
        ("447", "UK mobile"),
        ("4479", "UK mobile special"),
        ("1", "NANP"),
    ]
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("442071234567", "UK"),
        ("447700900123", "UK mobile"),
        ("447912345678", "UK mobile special"),
        ("4479", "UK mobile special"),  # the number is exactly the prefix
        ("447", "UK mobile"),
        ("45", "zone 4"),
        ("4", "zone 4"),
        ("12125550100", "NANP"),
        ("33123456789", None),
        ("0", None),
    ],
)
def test_longest_prefix_wins(number: str, expected: str | None) -> None:
    assert OVERLAPPING.lookup(number) == expected


def test_a_number_shorter_than_a_prefix_does_not_match_it() -> None:
    index = PrefixIndex([("44", "UK"), ("44207", "London")])
    assert index.lookup("4420") == "UK"
    assert index.lookup("44207") == "London"


def test_lookup_with_prefix_names_the_match() -> None:
    assert OVERLAPPING.lookup_with_prefix("447700900123") == ("447", "UK mobile")
    assert OVERLAPPING.lookup_with_prefix("33123") is None


def test_empty_index_matches_nothing() -> None:
    index: PrefixIndex[str] = PrefixIndex()
    assert index.lookup("44") is None
    assert index.lookup_with_prefix("44") is None
    assert len(index) == 0
    assert index.lengths == ()


def test_the_empty_prefix_is_a_catch_all() -> None:
    index = PrefixIndex([("", "default"), ("44", "UK")])
    assert index.lookup("33123") == "default"
    assert index.lookup("4412") == "UK"
    assert index.lookup_with_prefix("9") == ("", "default")


def test_falsy_values_are_found() -> None:
    index = PrefixIndex([("1", 0), ("2", ""), ("3", False)])
    assert index.lookup("10") == 0
    assert index.lookup("20") == ""
    assert index.lookup("30") is False


@pytest.mark.parametrize(
    "number", ["", "+447700900123", "44 7700", "44a", "٤٤", "४४", "4²", "44\n", None, 44]
)
def test_non_digit_numbers_are_refused(number: object) -> None:
    with pytest.raises(InvalidNumber):
        OVERLAPPING.lookup(number)  # type: ignore[arg-type]
    with pytest.raises(InvalidNumber):
        OVERLAPPING.lookup_with_prefix(number)  # type: ignore[arg-type]


def test_invalid_number_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        OVERLAPPING.lookup("+44")


@pytest.mark.parametrize(
    "prefix", ["+44", "4a", " 44", "٤", 44, None, "4" * (MAX_PREFIX_LENGTH + 1)]
)
def test_invalid_prefixes_are_refused(prefix: object) -> None:
    with pytest.raises(InvalidPrefix):
        PrefixIndex([(prefix, "x")])  # type: ignore[list-item]


def test_duplicates_and_none_values_are_refused() -> None:
    with pytest.raises(DuplicatePrefix, match="'44'"):
        PrefixIndex([("44", "a"), ("44", "b")])
    with pytest.raises(InvalidPrefix):
        PrefixIndex([("44", None)])


def test_long_numbers_still_match() -> None:
    index = PrefixIndex([("4" * MAX_PREFIX_LENGTH, "longest"), ("4", "short")])
    assert index.lookup("4" * 200) == "longest"
    assert index.lookup("4" * (MAX_PREFIX_LENGTH - 1)) == "short"


def test_the_index_is_immutable() -> None:
    with pytest.raises(AttributeError):
        OVERLAPPING._table = {}
    with pytest.raises(AttributeError):
        del OVERLAPPING._table


def test_exact_key_view() -> None:
    assert "44" in OVERLAPPING
    assert "442" not in OVERLAPPING
    assert OVERLAPPING.get("447") == "UK mobile"
    assert OVERLAPPING.get("4470") is None
    assert len(OVERLAPPING) == 5
    assert set(OVERLAPPING) == {"4", "44", "447", "4479", "1"}
    assert dict(OVERLAPPING.items())["1"] == "NANP"
    assert OVERLAPPING.lengths == (4, 3, 2, 1)


digits = st.text(alphabet="0123456789", min_size=0, max_size=8)


@settings(deadline=None)  # CI shares its machine: a GC pause is not a failure
@given(
    st.dictionaries(digits, st.integers(), max_size=60),
    st.text("0123456789", min_size=1, max_size=14),
)
def test_matches_a_brute_force_reference(prefixes: dict[str, int], number: str) -> None:
    index = PrefixIndex(prefixes.items())
    matching = [prefix for prefix in prefixes if number.startswith(prefix)]
    if not matching:
        assert index.lookup(number) is None
    else:
        best = max(matching, key=len)
        assert index.lookup_with_prefix(number) == (best, prefixes[best])
