"""Lookup datasets: LRN (number portability), CNAM (caller names) and do-not-call lists.

switch_api compiles an imported dataset into one blob (:func:`encode_dataset`); lookup_api
loads it (:func:`load_dataset`) into a compact, immutable index. The blob *is* the index's
memory image, so loading it is a few ``memcpy`` calls, not a parse:

``tandem.dataset.v1``
    line 1: a JSON header ``{"format", "kind", "id", "name", "priority", "rows", "byteorder",
    "strings", "sections": [{"name", "typecode", "count"}, …]}`` ending in ``\\n``; then each
    section's raw :mod:`array` bytes, in the order listed.

Keys are the E.164 digits of a number as an integer (country codes never start with 0, and
E.164 numbers have at most 15 digits, so the integer is exact and fits 64 bits). They are sorted
and unique; a lookup is a :func:`bisect.bisect_left` over an ``array('q')``.

=====  ======================================================================  ==============
kind   sections                                                                bytes a row
=====  ======================================================================  ==============
lrn    ``keys`` (q), ``lrn`` (q: the location routing number's digits, 0 if     18
       none), ``operator`` (H: index into the header's ``strings``)
cnam   ``keys`` (q), ``offsets`` (I, rows + 1), ``names`` (B: UTF-8 names)      12 + the name
dnc    ``keys`` (q): ``((length << 1) | exact) * 10**15 + digits``; a prefix    8
       entry (exact = 0) matches every number that starts with it, a number
       entry (exact = 1) only that number
=====  ======================================================================  ==============

Every index is immutable: lookup_api builds the new one beside the old and swaps one reference,
so a request sees either the old dataset or the new one, never half of one.
"""

from __future__ import annotations

import json
import sys
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "DATASET_BLOB_FORMAT",
    "MAX_DIGITS",
    "CnamIndex",
    "DatasetBuilder",
    "DatasetDecodeError",
    "DatasetIndex",
    "DatasetKind",
    "DncIndex",
    "DncMatch",
    "Duplicate",
    "LrnIndex",
    "LrnMatch",
    "dnc_key",
    "encode_dataset",
    "load_dataset",
    "sort_rows",
]

DATASET_BLOB_FORMAT = "tandem.dataset.v1"
#: E.164 allows at most 15 digits (ITU-T E.164 §6.1).
MAX_DIGITS = 15
_SPAN: int = 10**MAX_DIGITS
_MAX_OPERATORS = 65535


class DatasetKind(StrEnum):
    """What a dataset answers; also its blob kind in the configuration bucket (``lrn.<id>``)."""

    LRN = "lrn"
    CNAM = "cnam"
    DNC = "dnc"


class DatasetDecodeError(ValueError):
    """A dataset blob that cannot be loaded (wrong format, truncated, inconsistent)."""


def dnc_key(digits: str, *, exact: bool) -> int:
    """The sort key of a do-not-call entry: its length, whether it is a whole number, digits."""
    return (((len(digits) << 1) | int(exact)) * _SPAN) + int(digits)


@dataclass(frozen=True, slots=True)
class LrnMatch:
    """A ported number: its location routing number and the operator now serving it."""

    lrn: str | None
    operator: str | None


@dataclass(frozen=True, slots=True)
class DncMatch:
    """A do-not-call entry that holds a number: the entry and whether it is a prefix."""

    entry: str
    prefix: bool


class DatasetIndex:
    """Base of the loaded indexes: identity, metadata and the sorted ``keys``."""

    kind: DatasetKind
    __slots__ = ("id", "keys", "name", "priority", "rows", "size", "version")

    def __init__(
        self, header: dict[str, Any], keys: array[int], *, size: int, version: int
    ) -> None:
        self.id = uuid.UUID(str(header["id"]))
        self.name = str(header.get("name", ""))
        self.priority = int(header.get("priority", 0))
        self.rows = len(keys)
        self.keys = keys
        self.size = size
        self.version = version

    def _position(self, key: int) -> int:
        keys = self.keys
        at = bisect_left(keys, key)
        return at if at < len(keys) and keys[at] == key else -1

    def memory_bytes(self) -> int:
        """The bytes the index's arrays hold (what a million rows cost)."""
        return self.keys.itemsize * len(self.keys)


class LrnIndex(DatasetIndex):
    kind = DatasetKind.LRN
    __slots__ = ("lrns", "operator_ids", "operators")

    def __init__(
        self,
        header: dict[str, Any],
        keys: array[int],
        lrns: array[int],
        operator_ids: array[int],
        *,
        size: int = 0,
        version: int = 0,
    ) -> None:
        super().__init__(header, keys, size=size, version=version)
        self.lrns = lrns
        self.operator_ids = operator_ids
        self.operators: tuple[str, ...] = tuple(header.get("strings", ()))

    def get(self, digits: str) -> LrnMatch | None:
        """The LRN entry of a number given as E.164 digits, or ``None``."""
        if not digits.isdigit() or len(digits) > MAX_DIGITS:
            return None
        at = self._position(int(digits))
        if at < 0:
            return None
        lrn = self.lrns[at]
        operator = self.operators[self.operator_ids[at]] if self.operators else ""
        return LrnMatch(str(lrn) if lrn else None, operator or None)

    def memory_bytes(self) -> int:
        return (
            super().memory_bytes()
            + self.lrns.itemsize * len(self.lrns)
            + self.operator_ids.itemsize * len(self.operator_ids)
        )


class CnamIndex(DatasetIndex):
    kind = DatasetKind.CNAM
    __slots__ = ("names", "offsets")

    def __init__(
        self,
        header: dict[str, Any],
        keys: array[int],
        offsets: array[int],
        names: bytes,
        *,
        size: int = 0,
        version: int = 0,
    ) -> None:
        super().__init__(header, keys, size=size, version=version)
        self.offsets = offsets
        self.names = names

    def get(self, digits: str) -> str | None:
        """The caller name of a number given as E.164 digits, or ``None``."""
        if not digits.isdigit() or len(digits) > MAX_DIGITS:
            return None
        at = self._position(int(digits))
        if at < 0:
            return None
        return self.names[self.offsets[at] : self.offsets[at + 1]].decode()

    def memory_bytes(self) -> int:
        return super().memory_bytes() + self.offsets.itemsize * len(self.offsets) + len(self.names)


class DncIndex(DatasetIndex):
    kind = DatasetKind.DNC
    __slots__ = ("lengths",)

    def __init__(
        self, header: dict[str, Any], keys: array[int], *, size: int = 0, version: int = 0
    ) -> None:
        super().__init__(header, keys, size=size, version=version)
        # The (few) length bands present, found by jumping from one band to the next.
        bands: list[int] = []
        at = 0
        while at < len(keys):
            band = keys[at] // _SPAN
            bands.append(band)
            at = bisect_left(keys, (band + 1) * _SPAN)
        self.lengths: tuple[tuple[int, bool], ...] = tuple(
            (band >> 1, bool(band & 1)) for band in bands
        )

    def get(self, digits: str) -> DncMatch | None:
        """The entry holding a number (E.164 digits), the longest first, or ``None``."""
        if not digits.isdigit() or len(digits) > MAX_DIGITS:
            return None
        size = len(digits)
        best: DncMatch | None = None
        for length, exact in self.lengths:
            if length > size or (exact and length != size):
                continue
            head = digits[:length]
            if self._position(dnc_key(head, exact=exact)) >= 0 and (
                best is None or length >= len(best.entry)
            ):
                best = DncMatch(head, not exact)
        return best


# -- encoding ---------------------------------------------------------------------------------


def encode_dataset(
    header: dict[str, Any], sections: Sequence[tuple[str, array[int] | bytes]]
) -> bytes:
    """A blob from a header (``kind``, ``id``, ``name``, ``priority``, ``strings``…) and the
    sections in their order; ``rows`` and the byte order are filled in here."""
    listed = []
    payload = []
    for name, data in sections:
        if isinstance(data, array):
            listed.append({"name": name, "typecode": data.typecode, "count": len(data)})
            payload.append(data.tobytes())
        else:
            listed.append({"name": name, "typecode": "B", "count": len(data)})
            payload.append(bytes(data))
    keys = dict(sections).get("keys")
    head = {
        "format": DATASET_BLOB_FORMAT,
        **header,
        "rows": len(keys) if keys is not None else 0,
        "byteorder": sys.byteorder,
        "sections": listed,
    }
    return json.dumps(head, separators=(",", ":")).encode() + b"\n" + b"".join(payload)


def load_dataset(data: bytes | memoryview, *, version: int = 0) -> DatasetIndex:
    """The index a blob holds; :class:`DatasetDecodeError` if it is not a valid one."""
    view = memoryview(data)
    end = bytes(view[: 1 << 20]).find(b"\n")
    if end < 0:
        raise DatasetDecodeError("dataset blob has no header line")
    try:
        header = json.loads(bytes(view[:end]))
    except ValueError:
        raise DatasetDecodeError("dataset header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != DATASET_BLOB_FORMAT:
        raise DatasetDecodeError("not a tandem.dataset.v1 blob")
    try:
        kind = DatasetKind(header["kind"])
        uuid.UUID(str(header["id"]))
        sections: dict[str, array[int] | bytes] = {}
        at = end + 1
        for section in header["sections"]:
            typecode = str(section["typecode"])
            count = int(section["count"])
            width = array(typecode).itemsize
            chunk = view[at : at + count * width]
            if len(chunk) != count * width:
                raise DatasetDecodeError(f"dataset section {section['name']} is truncated")
            at += count * width
            if typecode == "B":
                sections[section["name"]] = bytes(chunk)
                continue
            values = array(typecode)
            values.frombytes(chunk)
            if header.get("byteorder", sys.byteorder) != sys.byteorder:
                values.byteswap()
            sections[section["name"]] = values
        if at != len(view):
            raise DatasetDecodeError("dataset blob has bytes after its last section")
        keys = sections["keys"]
        assert isinstance(keys, array)
        size = len(view)
        if kind is DatasetKind.LRN:
            lrns, operators = sections["lrn"], sections["operator"]
            assert isinstance(lrns, array)
            assert isinstance(operators, array)
            if not len(keys) == len(lrns) == len(operators):
                raise DatasetDecodeError("lrn dataset sections differ in length")
            return LrnIndex(header, keys, lrns, operators, size=size, version=version)
        if kind is DatasetKind.CNAM:
            offsets, names = sections["offsets"], sections["names"]
            assert isinstance(offsets, array)
            assert isinstance(names, bytes)
            if len(offsets) != len(keys) + 1 or (offsets and offsets[-1] != len(names)):
                raise DatasetDecodeError("cnam dataset offsets do not match its names")
            return CnamIndex(header, keys, offsets, names, size=size, version=version)
        return DncIndex(header, keys, size=size, version=version)
    except DatasetDecodeError:
        raise
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise DatasetDecodeError(f"dataset blob is malformed: {exc}") from None


# -- building (switch_api's compiler and the tests) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Two rows with the same key: the later one's position and the first one's."""

    row: int
    first: int


def sort_rows(keys: array[int]) -> tuple[array[int] | None, list[Duplicate]]:
    """The permutation that sorts ``keys`` (``None`` if already sorted) and duplicate keys.

    Most operators' files come sorted, which costs one pass; otherwise rows are sorted by
    ``(key, position)`` packed into one integer.
    """
    duplicates: list[Duplicate] = []
    ordered = all(keys[i] < keys[i + 1] for i in range(len(keys) - 1))
    if ordered:
        return None, duplicates
    shift = max(1, len(keys)).bit_length()
    packed = sorted((key << shift) | row for row, key in enumerate(keys))
    mask = (1 << shift) - 1
    order = array("q")
    previous = -1
    first = -1
    for value in packed:
        key, row = value >> shift, value & mask
        if key == previous:
            duplicates.append(Duplicate(row, first))
            continue
        previous, first = key, row
        order.append(row)
    return order, duplicates


class DatasetBuilder:
    """Rows of one dataset in file order, kept as compact arrays; :meth:`compile` sorts them.

    Ten million LRN rows take about 180 MB here, against gigabytes as Python tuples.
    """

    def __init__(self, kind: DatasetKind) -> None:
        self.kind = kind
        self.keys: array[int] = array("q")
        self._lrns: array[int] = array("q")
        self._operator_ids: array[int] = array("H")
        self._operators: dict[str, int] = {"": 0}
        self._offsets: array[int] = array("Q", [0])
        self._names = bytearray()
        #: The sort order found by :func:`sort_rows` (``None``: already sorted).
        self.order: array[int] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def add_lrn(self, key: int, lrn: int, operator: str) -> None:
        index = self._operators.setdefault(operator, len(self._operators))
        if index > _MAX_OPERATORS:
            raise ValueError(f"more than {_MAX_OPERATORS} distinct operators in one dataset")
        self.keys.append(key)
        self._lrns.append(lrn)
        self._operator_ids.append(index)

    def add_cnam(self, key: int, name: str) -> None:
        self.keys.append(key)
        self._names += name.encode()
        self._offsets.append(len(self._names))

    def add_dnc(self, key: int) -> None:
        self.keys.append(key)

    def compile(self, header: dict[str, Any], order: array[int] | None) -> bytes:
        """The blob, rows sorted by ``order`` (from :func:`sort_rows`; ``None``: as added)."""
        rows: Iterable[int] = range(len(self.keys)) if order is None else order
        keys = self.keys if order is None else array("q", (self.keys[r] for r in rows))
        sections: list[tuple[str, array[int] | bytes]] = [("keys", keys)]
        if self.kind is DatasetKind.LRN:
            if order is None:
                lrns, operator_ids = self._lrns, self._operator_ids
            else:
                lrns = array("q", (self._lrns[r] for r in order))
                operator_ids = array("H", (self._operator_ids[r] for r in order))
            sections += [("lrn", lrns), ("operator", operator_ids)]
            header = {**header, "strings": list(self._operators)}
        elif self.kind is DatasetKind.CNAM:
            if order is None:
                offsets, names = array("I", self._offsets), bytes(self._names)
            else:
                offsets, buffer = array("I", [0]), bytearray()
                source, starts = self._names, self._offsets
                for row in order:
                    buffer += source[starts[row] : starts[row + 1]]
                    offsets.append(len(buffer))
                names = bytes(buffer)
            sections += [("offsets", offsets), ("names", names)]
        return encode_dataset({**header, "kind": self.kind.value}, sections)
