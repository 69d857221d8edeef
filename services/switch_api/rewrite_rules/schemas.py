from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.db.models import MatchKind, RewriteTarget

Match = Annotated[
    str,
    Field(
        max_length=1024,
        description="A literal prefix, or an RE2 regular expression (linear-time; "
        "backreferences and lookaround are refused).",
        examples=["^\\+"],
    ),
]
Replacement = Annotated[
    str,
    Field(
        max_length=1024,
        description="For a regex: a template with \\1, \\g<name>, $1 or ${name}.",
        examples=[""],
    ),
]
Order = Annotated[int, Field(ge=-1_000_000, le=1_000_000, description="Lower applies first.")]


class RewriteRuleDraft(BaseModel):
    """A rule's content (for testing rules before saving them)."""

    model_config = ConfigDict(extra="forbid")

    target: RewriteTarget = RewriteTarget.DESTINATION
    kind: MatchKind = MatchKind.PREFIX
    match: Match
    replacement: Replacement = ""
    order: Order = 0


class RewriteRuleCreate(RewriteRuleDraft):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ip_auth_id": "0b6c1f3e-8d2a-4e5f-9a7b-6c5d4e3f2a1b",
                    "target": "destination",
                    "kind": "regex",
                    "match": "^\\+?0044",
                    "replacement": "44",
                    "order": 10,
                }
            ]
        },
    )

    ip_auth_id: uuid.UUID | None = Field(None, description="The owner: an IP auth entry …")
    sip_user_id: uuid.UUID | None = Field(None, description="… or a SIP user (exactly one).")

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        if (self.ip_auth_id is None) == (self.sip_user_id is None):
            raise ValueError("give exactly one owner: ip_auth_id or sip_user_id")
        return self


class RewriteRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: RewriteTarget | None = None
    kind: MatchKind | None = None
    match: Match | None = None
    replacement: Replacement | None = None
    order: Order | None = None


class RewriteRule(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ip_auth_id: uuid.UUID | None
    sip_user_id: uuid.UUID | None
    target: RewriteTarget
    kind: MatchKind
    match: str
    replacement: str
    order: int
    version: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "position"):
            data = {name: getattr(value, name) for name in set(cls.model_fields) - {"order"}}
            data["order"] = value.position
            return data
        return value


class RewriteTest(BaseModel):
    """Apply an owner's saved rules and/or draft rules to ``input``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rules": [
                        {"kind": "prefix", "match": "+", "replacement": ""},
                        {"kind": "regex", "match": "^00(\\d+)", "replacement": "\\1"},
                    ],
                    "input": "+442071234567",
                }
            ]
        },
    )

    ip_auth_id: uuid.UUID | None = None
    sip_user_id: uuid.UUID | None = None
    rules: list[RewriteRuleDraft] = Field([], max_length=100)
    target: RewriteTarget = RewriteTarget.DESTINATION
    input: Annotated[str, Field(max_length=128, examples=["+442071234567"])]

    @model_validator(mode="after")
    def _something_to_test(self) -> Self:
        if self.ip_auth_id is not None and self.sip_user_id is not None:
            raise ValueError("give at most one owner: ip_auth_id or sip_user_id")
        if self.ip_auth_id is None and self.sip_user_id is None and not self.rules:
            raise ValueError("give an owner (ip_auth_id or sip_user_id) or draft rules")
        return self


class RewriteStep(BaseModel):
    rule_id: uuid.UUID | None = Field(description="null for a draft rule.")
    order: int
    kind: MatchKind
    match: str
    replacement: str
    before: str
    after: str
    matched: bool


class RewriteTestResult(BaseModel):
    input: str
    output: str
    steps: list[RewriteStep]
