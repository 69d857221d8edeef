"""A longest-prefix-match index over digit strings, for rate cards of a million prefixes.

Structure
    One ``dict`` from prefix string to value, and the tuple of prefix lengths present, longest
    first. A lookup slices the number at each present length (longest first, skipping lengths
    longer than the number) and returns the first hit: the longest matching prefix. Real rate
    cards cluster around a few lengths and the deepest match is usually found in one to three
    probes; the worst case is one probe per distinct length (≤ :data:`MAX_PREFIX_LENGTH`).

    For each number length the probe lengths are precomputed, so the hot loop is one slice and
    one ``dict.get`` per probe. Alternatives prototyped before choosing this one: a sorted array
    of interval bounds searched with :mod:`bisect` was ~3x leaner but ~2x slower per lookup (a
    base-11 key conversion plus ~20 boxed comparisons); a binary search over lengths with
    markers (Waldvogel et al., SIGCOMM 1997) bounds the probes at log2(lengths) but each probe
    costs more in CPython, it was no faster on realistic cards, and it stores ~35 % more keys.

Memory
    The strings are the cost: one ``str`` per prefix (~50 bytes + its length) and one dict slot
    (~30-40 bytes at the dict's load factor); values are shared references. About 100 bytes per
    prefix plus the values; the benchmark prints the measured figure per million.

Immutability
    An index is built once and never changes: a rate card reload builds a new index and swaps
    the reference, so readers never see half a card. ``__slots__`` and ``__setattr__`` keep it so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from libs.routing.errors import DuplicatePrefix, InvalidNumber, InvalidPrefix

__all__ = ["MAX_PREFIX_LENGTH", "PrefixIndex", "is_digits"]

#: The longest prefix an index accepts: above E.164's 15 digits, with room for routing numbers.
MAX_PREFIX_LENGTH = 32

V = TypeVar("V")


def is_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits 0-9 (``str.isdigit`` alone accepts ``'²'``)."""
    return text.isdigit() and text.isascii()


class PrefixIndex(Generic[V]):
    """An immutable map from digit-string prefixes to values with longest-prefix lookup.

    Build it from ``(prefix, value)`` pairs; a prefix is a string of ASCII digits, possibly
    empty (the empty prefix matches every number: a catch-all). Values may be anything but
    ``None`` (which :meth:`lookup` uses for "no match").
    """

    __slots__ = ("_get", "_max_length", "_probes", "_table")

    _table: dict[str, V]
    _get: Callable[[str], V | None]
    _probes: tuple[tuple[int, ...], ...]
    _max_length: int

    def __init__(self, pairs: Iterable[tuple[str, V]] = ()) -> None:
        table: dict[str, V] = {}
        for prefix, value in pairs:
            if not isinstance(prefix, str) or not (prefix == "" or is_digits(prefix)):
                raise InvalidPrefix(f"a prefix must be ASCII digits, not {prefix!r}")
            if len(prefix) > MAX_PREFIX_LENGTH:
                raise InvalidPrefix(f"prefix {prefix!r} is longer than {MAX_PREFIX_LENGTH} digits")
            if value is None:
                raise InvalidPrefix(f"prefix {prefix!r} has no value (None means 'no match')")
            if prefix in table:
                raise DuplicatePrefix(f"prefix {prefix!r} appears twice")
            table[prefix] = value
        lengths = sorted({len(prefix) for prefix in table}, reverse=True)
        max_length = lengths[0] if lengths else 0
        # _probes[n]: the lengths to try, longest first, for a number of n digits (n ≤ max).
        probes = tuple(
            tuple(length for length in lengths if length <= size) for size in range(max_length + 1)
        )
        set_ = object.__setattr__
        set_(self, "_table", table)
        set_(self, "_get", table.get)
        set_(self, "_probes", probes)
        set_(self, "_max_length", max_length)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- lookups -----------------------------------------------------------------------------

    def lookup(self, number: str) -> V | None:
        """The value of the longest prefix of ``number``, or ``None`` if no prefix matches.

        ``number`` must be a non-empty string of ASCII digits; anything else raises
        :class:`InvalidNumber` (a ``'+'`` or a space is for rewrite rules to remove first).
        """
        if not (isinstance(number, str) and number.isdigit() and number.isascii()):
            raise InvalidNumber(f"a number to look up must be ASCII digits, not {number!r}")
        return self.lookup_digits(number)

    def lookup_digits(self, number: str) -> V | None:
        """:meth:`lookup` for a number the caller has already checked with :func:`is_digits`.

        The hot path of :class:`~libs.routing.RoutingTable` checks a number once and looks it
        up in several cards; given anything but digits this returns a wrong answer, not an error.
        """
        get = self._get
        size = len(number)
        for length in self._probes[size if size < self._max_length else self._max_length]:
            value = get(number[:length])
            if value is not None:
                return value
        return None

    def lookup_with_prefix(self, number: str) -> tuple[str, V] | None:
        """The longest matching prefix of ``number`` and its value, or ``None``."""
        if not (isinstance(number, str) and number.isdigit() and number.isascii()):
            raise InvalidNumber(f"a number to look up must be ASCII digits, not {number!r}")
        get = self._get
        size = len(number)
        for length in self._probes[size if size < self._max_length else self._max_length]:
            prefix = number[:length]
            value = get(prefix)
            if value is not None:
                return prefix, value
        return None

    # -- the exact-key view ------------------------------------------------------------------

    def get(self, prefix: str) -> V | None:
        """The value stored for exactly ``prefix`` (no longest-match), or ``None``."""
        return self._table.get(prefix)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._table

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def items(self) -> Iterator[tuple[str, V]]:
        """Every ``(prefix, value)`` pair, in the order the index was built from."""
        return iter(self._table.items())

    @property
    def lengths(self) -> tuple[int, ...]:
        """The distinct prefix lengths present, longest first."""
        return self._probes[self._max_length] if self._table else ()

    def __repr__(self) -> str:
        return f"<PrefixIndex {len(self._table)} prefixes, lengths {list(self.lengths)}>"
