"""Every bus message's JSON schema is a contract, snapshotted in tests/contracts/.

A differing schema fails this test. If the change is backwards compatible (a new optional field),
refresh the snapshots with ``TANDEM_UPDATE_CONTRACTS=1 pytest tests/bus/test_contracts.py``.
Anything else (a field removed, renamed, narrowed or made required) breaks consumers that run an
older version: publish the new shape on a new subject instead (STYLE.md, *Code*).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from libs.bus import ALL_MESSAGES, BusMessage

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
UPDATE = os.environ.get("TANDEM_UPDATE_CONTRACTS") == "1"

HOW_TO_FIX = (
    "The JSON schema of {name} differs from its snapshot {path}. A message schema is a contract "
    "between services that may run different versions: a breaking change (a field removed, "
    "renamed, narrowed or made required) needs a new message on a new subject. If the change is "
    "backwards compatible (e.g. a new optional field), refresh the snapshot with "
    "TANDEM_UPDATE_CONTRACTS=1 pytest tests/bus/test_contracts.py and commit it."
)


def _without_descriptions(schema: object) -> object:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    return schema


def _render(schema: object) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda model: model.__name__)
def test_message_schema_matches_its_snapshot(model: type[BusMessage]) -> None:
    path = CONTRACTS / f"{model.__name__}.json"
    schema = model.model_json_schema()
    if UPDATE:
        CONTRACTS.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(schema), encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(
            f"no contract snapshot for {model.__name__} at {path}: create it with "
            "TANDEM_UPDATE_CONTRACTS=1 pytest tests/bus/test_contracts.py and commit it"
        )
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    if schema == snapshot:
        return
    if _without_descriptions(schema) == _without_descriptions(snapshot):
        pytest.fail(
            f"only the descriptions (docstrings) of {model.__name__} changed: not a breaking "
            "change; refresh the snapshot with "
            "TANDEM_UPDATE_CONTRACTS=1 pytest tests/bus/test_contracts.py and commit it"
        )
    pytest.fail(HOW_TO_FIX.format(name=model.__name__, path=path))


def test_every_snapshot_belongs_to_a_message() -> None:
    known = {model.__name__ for model in ALL_MESSAGES}
    orphans = sorted(p for p in CONTRACTS.glob("*.json") if p.stem not in known)
    if UPDATE:
        for orphan in orphans:
            orphan.unlink()
        return
    assert not orphans, (
        f"snapshots without a message in ALL_MESSAGES: {[p.name for p in orphans]}. Removing or "
        "renaming a message breaks its consumers; if that is intended (its subject is retired), "
        "delete the snapshot (or run with TANDEM_UPDATE_CONTRACTS=1)."
    )
