"""Reading rate decks: CSV with a column mapping, and the open rate-card JSON format.

Both readers stream: CSV rows come from a file one at a time, and a JSON document is walked
without building its ``rates`` arrays (each row is decoded on its own by the C decoder), so a
500,000-row deck is never held in memory as Python objects. Every row is validated on its own
and an error names its line in the upload.

Open rate card (github.com/connexcs/open-rate-card, SPECIFICATION.md v1.0.0 and CARD-TYPES.md)
— the subset read here:

* the root must carry ``schema_version`` 1.x and ``cards`` (an object of named cards);
  other root sections (legal, endpoints, customer, metadata …) are ignored, as the
  specification asks of parsers;
* the card is the one named by ``card=`` (or the only card that has ``rates``); its
  ``currency`` must equal the rate card's; ``rate.default_initial`` / ``rate.default_pulse`` /
  ``rate.connection`` are the defaults of rows without those columns;
* ``fields`` names the columns of ``rates`` (an array of arrays). Columns read: ``prefix``,
  ``name`` or ``destination``, ``rate``, ``connection_fee``, ``initial_interval``,
  ``billing_interval`` (also ``initial`` / ``pulse`` / ``subsequent``) and the extension
  ``blocked``; any other column (effective_date, country_code, region, mcc …) is ignored. A row
  must have exactly as many columns as ``fields`` (the specification's alignment rule).
* Not read: a card's ``rate_card`` reference to an external URI (nothing is downloaded),
  per-row ``effective_date`` (the revision's effective date applies), ``charge`` (the rate
  card's own precision and rounding apply).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from libs.db.models.configuration import RATE_SCALE

__all__ = [
    "FIELDS",
    "MAX_ERRORS",
    "ImportFormatError",
    "RateDefaults",
    "RowError",
    "ValidRate",
    "csv_rows",
    "open_rate_card_rows",
    "parse_mapping",
    "row_error",
    "validate_row",
]

#: Errors reported at most (the import stops looking after that many).
MAX_ERRORS = 100
#: Our fields, in the default column order of a CSV without a header.
FIELDS = (
    "prefix",
    "destination",
    "rate",
    "connection_fee",
    "initial_increment",
    "subsequent_increment",
    "blocked",
)
_ALIASES = {
    "prefix": "prefix",
    "code": "prefix",
    "destination": "destination",
    "name": "destination",
    "rate": "rate",
    "connection_fee": "connection_fee",
    "connection": "connection_fee",
    "initial_increment": "initial_increment",
    "initial_interval": "initial_increment",
    "initial": "initial_increment",
    "subsequent_increment": "subsequent_increment",
    "billing_interval": "subsequent_increment",
    "subsequent": "subsequent_increment",
    "pulse": "subsequent_increment",
    "blocked": "blocked",
}
_PREFIX = re.compile(r"^[0-9]{1,32}$")
_UNIT = Decimal(1).scaleb(-RATE_SCALE)
_MAX_AMOUNT = Decimal(10) ** 9
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}


class ImportFormatError(ValueError):
    """The upload as a whole cannot be read (not CSV/JSON, a missing column …)."""

    def __init__(self, message: str, *, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class RateDefaults:
    initial_increment: int
    subsequent_increment: int
    connection_fee: Decimal = Decimal(0)


ValidRate = tuple[str, str, Decimal, Decimal, int, int, bool]


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name} {str(value)[:40]!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be a finite number >= 0")
    if amount >= _MAX_AMOUNT:
        raise ValueError(f"{name} {amount} is too large")
    if amount != amount.quantize(_UNIT):
        raise ValueError(f"{name} {amount} has more than {RATE_SCALE} decimal places")
    return amount


def _seconds(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be whole seconds")
    text = str(value).strip()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        text = str(int(value))
    if not text.isdigit():
        raise ValueError(f"{name} {text[:20]!r} is not whole seconds")
    seconds = int(text)
    if not minimum <= seconds <= 86400:
        raise ValueError(f"{name} must be {minimum}-86400 seconds, not {seconds}")
    return seconds


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"blocked {text[:20]!r} is not true/false")


def validate_row(values: dict[str, Any], defaults: RateDefaults) -> ValidRate:
    """One rate from a row's named values; ``ValueError`` (naming the field) if invalid."""
    raw_prefix = values.get("prefix")
    prefix = "" if raw_prefix is None else str(raw_prefix).strip().lstrip("+")
    if not _PREFIX.match(prefix):
        raise ValueError(f"prefix {str(raw_prefix)[:40]!r} must be 1-32 digits")
    destination = values.get("destination")
    destination = "" if destination is None else str(destination).strip()
    if len(destination) > 200:
        raise ValueError("destination is longer than 200 characters")
    if values.get("rate") in (None, ""):
        raise ValueError("rate is missing")
    rate = _amount(values["rate"], "rate")
    fee_value = values.get("connection_fee")
    fee = (
        defaults.connection_fee if fee_value in (None, "") else _amount(fee_value, "connection_fee")
    )
    initial_value = values.get("initial_increment")
    initial = (
        defaults.initial_increment
        if initial_value in (None, "")
        else _seconds(initial_value, "initial_increment", 0)
    )
    subsequent_value = values.get("subsequent_increment")
    subsequent = (
        defaults.subsequent_increment
        if subsequent_value in (None, "")
        else _seconds(subsequent_value, "subsequent_increment", 1)
    )
    return prefix, destination, rate, fee, initial, subsequent, _flag(values.get("blocked"))


def _field_of(message: str) -> str:
    first = message.split(" ", 1)[0]
    return first if first in FIELDS else "row"


# -- CSV --------------------------------------------------------------------------------------


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"prefix=Code,rate=Price"`` → ``{"prefix": "Code", "rate": "Price"}`` (values are header
    names, case-insensitive, or 1-based column numbers)."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        field, sep, column = part.partition("=")
        field = field.strip().lower()
        if not sep or not column.strip():
            raise ImportFormatError(f"columns: {part!r} is not field=column", field="columns")
        canonical = _ALIASES.get(field)
        if canonical is None:
            raise ImportFormatError(
                f"columns: unknown field {field!r} (fields: {', '.join(FIELDS)})", field="columns"
            )
        mapping[canonical] = column.strip()
    return mapping


def csv_rows(
    stream: IO[bytes],
    *,
    delimiter: str = ",",
    header: bool = True,
    mapping: dict[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, {field: text})`` for each data row of a CSV file (UTF-8, BOM allowed).

    With a header, columns are found by ``mapping`` (field → header name or number) or else by
    their names (``prefix``, ``destination``/``name``, ``rate`` …); without one, by
    ``mapping``'s numbers or else in :data:`FIELDS` order.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    mapping = dict(mapping or {})
    positions: dict[str, int] = {}
    try:
        if header:
            try:
                names = next(reader)
            except StopIteration:
                return
            lowered = [n.strip().lower() for n in names]
            for field, column in mapping.items():
                if column.isdigit():
                    positions[field] = int(column) - 1
                elif column.lower() in lowered:
                    positions[field] = lowered.index(column.lower())
                else:
                    raise ImportFormatError(
                        f"columns: the header has no column {column!r} (it has: "
                        f"{', '.join(names)[:300]})",
                        field="columns",
                    )
            for index, name in enumerate(lowered):
                canonical = _ALIASES.get(name.replace(" ", "_"))
                if canonical is not None and canonical not in positions:
                    positions[canonical] = index
        else:
            for field, column in mapping.items():
                if not column.isdigit() or int(column) < 1:
                    raise ImportFormatError(
                        "columns: without a header, map fields to column numbers (prefix=1)",
                        field="columns",
                    )
                positions[field] = int(column) - 1
            if not positions:
                positions = {field: index for index, field in enumerate(FIELDS)}
        for required in ("prefix", "rate"):
            if required not in positions:
                raise ImportFormatError(
                    f"no {required} column: name it in the header or map it with "
                    f"columns={required}=<column>",
                    field="columns",
                )
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            values = {
                field: (row[index] if index < len(row) else None)
                for field, index in positions.items()
            }
            yield reader.line_num, values
    except csv.Error as exc:
        raise ImportFormatError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    except UnicodeDecodeError:
        raise ImportFormatError("the file is not UTF-8 text") from None
    finally:
        text.detach()


# -- open rate card JSON ----------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


class _Walker:
    """A shallow JSON walker: objects by member, values decoded by the C decoder."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder(parse_float=Decimal)

    def skip_ws(self, index: int) -> int:
        match = _WS.match(self.text, index)
        assert match is not None
        return match.end()

    def char(self, index: int) -> str:
        index = self.skip_ws(index)
        return self.text[index] if index < len(self.text) else ""

    def expect(self, index: int, char: str) -> int:
        index = self.skip_ws(index)
        if index >= len(self.text) or self.text[index] != char:
            raise self.error(index, f"expected {char!r}")
        return index + 1

    def value(self, index: int) -> tuple[Any, int]:
        index = self.skip_ws(index)
        try:
            return self.decoder.raw_decode(self.text, index)
        except json.JSONDecodeError as exc:
            raise self.error(exc.pos, exc.msg) from None

    def members(self, index: int) -> Iterator[tuple[str, int]]:
        """Keys of the object at ``index`` and where each value starts. The consumer reads the
        value and sets ``self.cursor`` to its end before asking for the next member."""
        index = self.expect(index, "{")
        if self.char(index) == "}":
            self.cursor = self.skip_ws(index) + 1
            return
        while True:
            key, index = self.value(index)
            if not isinstance(key, str):
                raise self.error(index, "expected a member name")
            index = self.expect(index, ":")
            self.cursor = index
            yield key, self.skip_ws(index)
            index = self.cursor
            if self.char(index) == ",":
                index = self.skip_ws(index) + 1
                continue
            self.cursor = self.expect(index, "}")
            return

    def array_items(self, index: int) -> Iterator[tuple[int, Any]]:
        """``(start, value)`` of each item of the array at ``index``; sets ``self.cursor``."""
        index = self.expect(index, "[")
        if self.char(index) == "]":
            self.cursor = self.skip_ws(index) + 1
            return
        while True:
            start = self.skip_ws(index)
            item, index = self.value(start)
            yield start, item
            if self.char(index) == ",":
                index = self.skip_ws(index) + 1
                continue
            self.cursor = self.expect(index, "]")
            return

    def line_of(self, index: int) -> int:
        return self.text.count("\n", 0, index) + 1

    def error(self, index: int, message: str) -> ImportFormatError:
        return ImportFormatError(f"line {self.line_of(index)}: not valid JSON: {message}")

    cursor: int = 0


def _scan(walker: _Walker) -> tuple[dict[str, Any], dict[str, tuple[dict[str, Any], int | None]]]:
    """The root's members (but ``cards``) and each card's members with where ``rates`` starts."""
    root: dict[str, Any] = {}
    cards: dict[str, tuple[dict[str, Any], int | None]] = {}
    for key, start in walker.members(0):
        if key != "cards":
            root[key], walker.cursor = walker.value(start)
            continue
        if walker.char(start) != "{":
            raise ImportFormatError("cards must be an object of named cards", field="cards")
        for name, card_start in walker.members(start):
            if walker.char(card_start) != "{":
                raise ImportFormatError(f"cards.{name} must be an object", field="cards")
            card: dict[str, Any] = {}
            rates_at: int | None = None
            for member, value_start in walker.members(card_start):
                if member == "rates":
                    rates_at = value_start
                    for _ in walker.array_items(value_start):
                        pass
                else:
                    card[member], walker.cursor = walker.value(value_start)
            cards[name] = (card, rates_at)
    trailing = walker.skip_ws(walker.cursor)
    if trailing != len(walker.text):
        raise walker.error(trailing, "extra data after the document")
    return root, cards


def open_rate_card_rows(
    stream: IO[bytes], *, currency: str, card: str | None, defaults: RateDefaults
) -> tuple[RateDefaults, Iterator[tuple[int, dict[str, Any]]]]:
    """The card's defaults and ``(line, {field: value})`` for each of its rates."""
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig").read()
    except UnicodeDecodeError:
        raise ImportFormatError("the file is not UTF-8 text") from None
    walker = _Walker(text)
    if walker.char(0) != "{":
        raise ImportFormatError("an open rate card is a JSON object")
    root, cards = _scan(walker)
    version = str(root.get("schema_version", ""))
    if not re.fullmatch(r"1\.[0-9]+\.[0-9]+", version):
        raise ImportFormatError(
            f"schema_version {version!r} is not a supported open rate card version (1.x.y)",
            field="schema_version",
        )
    if not cards:
        raise ImportFormatError("the document has no cards", field="cards")
    if card is None:
        with_rates = [name for name, (_, at) in cards.items() if at is not None]
        if len(with_rates) != 1:
            raise ImportFormatError(
                f"the document has {len(with_rates)} cards with rates "
                f"({', '.join(with_rates)[:200]}): choose one with card=<name>",
                field="card",
            )
        card = with_rates[0]
    if card not in cards:
        raise ImportFormatError(
            f"the document has no card {card!r} (it has: {', '.join(cards)[:200]})",
            field="card",
        )
    meta, rates_at = cards[card]
    if meta.get("currency") != currency:
        raise ImportFormatError(
            f"cards.{card}.currency is {meta.get('currency')!r} but the rate card is in {currency}",
            field="currency",
        )
    fields = meta.get("fields")
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
    ):
        raise ImportFormatError(
            f"cards.{card}.fields must list the rate columns ([{{'name': 'prefix'}}, …])",
            field="fields",
        )
    names = [_ALIASES.get(str(f["name"]).lower()) for f in fields]
    for required in ("prefix", "rate"):
        if required not in names:
            raise ImportFormatError(f"cards.{card}.fields has no {required} column", field="fields")
    settings = meta.get("rate") if isinstance(meta.get("rate"), dict) else {}
    assert isinstance(settings, dict)
    try:
        card_defaults = RateDefaults(
            initial_increment=_seconds(
                settings.get("default_initial", defaults.initial_increment), "default_initial", 0
            ),
            subsequent_increment=_seconds(
                settings.get("default_pulse", defaults.subsequent_increment), "default_pulse", 1
            ),
            connection_fee=_amount(
                settings.get("connection", defaults.connection_fee), "connection"
            ),
        )
    except ValueError as exc:
        raise ImportFormatError(f"cards.{card}.rate: {exc}", field="rate") from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        if rates_at is None:
            return
        line, last = 1, 0
        for start, item in walker.array_items(rates_at):
            line += walker.text.count("\n", last, start)
            last = start
            if not isinstance(item, list):
                yield line, {"__error__": "a rate must be an array of columns"}
                continue
            if len(item) != len(names):
                yield (
                    line,
                    {
                        "__error__": f"the rate has {len(item)} columns but fields "
                        f"lists {len(names)}"
                    },
                )
                continue
            yield line, {name: value for name, value in zip(names, item, strict=True) if name}

    return card_defaults, rows()


def row_error(line: int, exc: Exception) -> RowError:
    message = str(exc)
    return RowError(line, _field_of(message), message)
