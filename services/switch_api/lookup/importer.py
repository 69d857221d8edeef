"""Reading dataset files: CSV rows of LRN, CNAM or do-not-call entries into a compiled blob.

Runs in a worker thread (a ten-million-row file takes tens of seconds of CPU; the event loop
must go on serving): rows are read one at a time from the spooled upload, validated, and
appended to a :class:`~libs.lookup.DatasetBuilder`'s compact arrays — never held as Python
objects. Every error names its line; after :data:`MAX_ERRORS` the import stops looking.

Columns (header names, case-insensitive; without a header, in this order)

=====  =====================================================================================
kind   columns
=====  =====================================================================================
lrn    ``number`` (tn, dn, telephone_number), ``lrn`` (routing_number), ``operator``
       (spid, ocn, carrier; optional)
cnam   ``number``, ``name`` (cnam, caller_name; at most 64 characters)
dnc    ``number`` (entry, prefix), ``prefix`` (optional true/false); an entry ending in ``*``
       is a prefix too. A prefix entry holds every number that starts with it.
=====  =====================================================================================

Numbers are E.164 digits (``+``, spaces, dashes, dots and brackets are dropped), 1-15 digits
not starting with 0; ``prepend`` digits (e.g. ``1`` for ten-digit NANP files) go in front of
every number and LRN.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from libs.lookup import MAX_DIGITS, DatasetBuilder, DatasetKind, dnc_key, sort_rows

__all__ = ["MAX_ERRORS", "ImportFormatError", "Progress", "RowError", "read_dataset"]

MAX_ERRORS = 100
MAX_NAME = 64
_COLUMNS: dict[DatasetKind, tuple[str, ...]] = {
    DatasetKind.LRN: ("number", "lrn", "operator"),
    DatasetKind.CNAM: ("number", "name"),
    DatasetKind.DNC: ("number", "prefix"),
}
_REQUIRED: dict[DatasetKind, tuple[str, ...]] = {
    DatasetKind.LRN: ("number", "lrn"),
    DatasetKind.CNAM: ("number", "name"),
    DatasetKind.DNC: ("number",),
}
_ALIASES = {
    "number": "number",
    "tn": "number",
    "dn": "number",
    "telephone_number": "number",
    "phone": "number",
    "entry": "number",
    "lrn": "lrn",
    "routing_number": "lrn",
    "location_routing_number": "lrn",
    "operator": "operator",
    "spid": "operator",
    "ocn": "operator",
    "carrier": "operator",
    "name": "name",
    "cnam": "name",
    "caller_name": "name",
    "prefix": "prefix",
    "is_prefix": "prefix",
}
_STRIP = str.maketrans("", "", " +-.()")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (not UTF-8 CSV, a required column missing)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass
class Progress:
    """Updated by the worker thread, read by progress polls (plain assignments)."""

    bytes_total: int = 0
    bytes_read: int = 0
    rows_read: int = 0
    errors: list[RowError] = field(default_factory=list)


def _digits(text: str, prepend: str, what: str, *, star: bool = False) -> str:
    value = text.strip().translate(_STRIP)
    if star and value.endswith("*"):
        value = value[:-1]
    value = prepend + value if value else value
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"{what} {text.strip()[:32]!r} is not a number (digits, optional +)")
    if value[0] == "0":
        raise ValueError(f"{what} {value!r} starts with 0: give it in E.164 with its country code")
    if len(value) > MAX_DIGITS:
        raise ValueError(f"{what} {value!r} has more than {MAX_DIGITS} digits (E.164)")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"prefix {text.strip()[:16]!r} is not true/false")


def _positions(kind: DatasetKind, reader: Callable[[], list[str]] | None) -> dict[str, int]:
    if reader is None:
        return {name: index for index, name in enumerate(_COLUMNS[kind])}
    try:
        names = reader()
    except StopIteration:
        raise ImportFormatError("the file is empty") from None
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        canonical = _ALIASES.get(name.strip().lower().replace(" ", "_"))
        if canonical in _COLUMNS[kind] and canonical not in positions:
            positions[canonical] = index
    for required in _REQUIRED[kind]:
        if required not in positions:
            raise ImportFormatError(
                f"line 1: no {required} column (a {kind.value} file has "
                f"{', '.join(_COLUMNS[kind])}; the header has {', '.join(names)[:200]})"
            )
    return positions


def read_dataset(
    kind: DatasetKind,
    upload: IO[bytes],
    progress: Progress,
    *,
    header: bool = True,
    delimiter: str = ",",
    prepend: str = "",
) -> DatasetBuilder:
    """Every row of ``upload`` in a builder (rows sorted, duplicates reported by line).

    Raises :class:`ImportFormatError` for an unreadable file; row errors are in
    ``progress.errors`` (the builder is then incomplete and must not be used).
    """
    if prepend and not (prepend.isdigit() and prepend.isascii() and len(prepend) <= 3):
        raise ImportFormatError("prepend must be 1-3 digits (a country code)")
    builder = DatasetBuilder(kind)
    lines = array("I")  # the file line of each row, for duplicate reports
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    errors = progress.errors
    try:
        positions = _positions(kind, (lambda: next(reader)) if header else None)
        number_at = positions["number"]
        lrn_at = positions.get("lrn", -1)
        operator_at = positions.get("operator", -1)
        name_at = positions.get("name", -1)
        prefix_at = positions.get("prefix", -1)
        for row in reader:
            progress.rows_read += 1
            if progress.rows_read % 8192 == 0:
                progress.bytes_read = upload.tell()
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = reader.line_num
            try:
                raw = row[number_at] if number_at < len(row) else ""
                if kind is DatasetKind.LRN:
                    number = _digits(raw, prepend, "number")
                    lrn_text = row[lrn_at] if lrn_at < len(row) else ""
                    lrn = _digits(lrn_text, prepend, "lrn") if lrn_text.strip() else ""
                    operator = row[operator_at].strip() if 0 <= operator_at < len(row) else ""
                    if len(operator) > MAX_NAME:
                        raise ValueError(f"operator is longer than {MAX_NAME} characters")
                    builder.add_lrn(int(number), int(lrn) if lrn else 0, operator)
                elif kind is DatasetKind.CNAM:
                    number = _digits(raw, prepend, "number")
                    name = row[name_at].strip() if name_at < len(row) else ""
                    if not name or len(name) > MAX_NAME:
                        raise ValueError(f"name must be 1-{MAX_NAME} characters")
                    builder.add_cnam(int(number), name)
                else:
                    star = raw.strip().endswith("*")
                    number = _digits(raw, prepend, "number", star=True)
                    is_prefix = star or (0 <= prefix_at < len(row) and _flag(row[prefix_at]))
                    builder.add_dnc(dnc_key(number, exact=not is_prefix))
            except ValueError as exc:
                message = str(exc)
                errors.append(RowError(line, message.split(" ", 1)[0], f"line {line}: {message}"))
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            lines.append(line)
    except csv.Error as exc:
        raise ImportFormatError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    except UnicodeDecodeError:
        raise ImportFormatError("the file is not UTF-8 text") from None
    finally:
        text.detach()
    progress.bytes_read = progress.bytes_total
    if errors:
        return builder
    order, duplicates = sort_rows(builder.keys)
    for duplicate in duplicates[: MAX_ERRORS - len(errors)]:
        line, first = lines[duplicate.row], lines[duplicate.first]
        errors.append(RowError(line, "number", f"line {line}: the number is also on line {first}"))
    builder.order = order
    return builder
