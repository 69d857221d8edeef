"""Validation and update helpers the configuration domains of both APIs share (no FastAPI)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from pydantic import BaseModel

from libs.errors import FieldError, ValidationFailed
from libs.security import AddressAcl, InvalidNetwork
from libs.security.netacl import parse_network

__all__ = [
    "apply_changes",
    "changes_of",
    "invalid",
    "normalise_network",
    "normalise_networks",
    "valid_host_name",
]

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def invalid(field: str, message: str, *, type: str = "value_error") -> ValidationFailed:
    """A 422 naming ``field`` (a body field) and saying what to fix."""
    return ValidationFailed(
        f"{field}: {message}", errors=[FieldError(["body", field], message, type)]
    )


def normalise_networks(field: str, entries: Iterable[str]) -> list[str]:
    """Addresses/CIDRs as the canonical text (``AddressAcl``'s strict rules); 422 otherwise."""
    values = list(entries)
    try:
        AddressAcl.parse(values)
    except InvalidNetwork as exc:
        raise invalid(field, str(exc)) from None
    return [str(parse_network(value)) for value in values]


def normalise_network(field: str, value: str) -> str:
    try:
        return str(parse_network(value))
    except InvalidNetwork as exc:
        raise invalid(field, str(exc)) from None


def valid_host_name(value: str) -> bool:
    """An RFC 1123 host name with at least one dot (a fully qualified domain name)."""
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or "." not in name:
        return False
    labels = name.split(".")
    return all(_HOST_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()  # a nested object sent whole, with its defaults
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def changes_of(data: BaseModel, *, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields a PATCH sent; ``null`` clears a nullable field and is ignored elsewhere."""
    changes = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None or name in nullable:
            changes[name] = _plain(value)
    return changes


def apply_changes(row: object, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
