"""Rewrite rules, checked by the same code sip_core runs (:mod:`libs.routing.rewrite`).

Regular expressions are RE2's: matching is linear in the input, so ``(a+)+$`` is harmless, and
what RE2 cannot run in linear time (backreferences, lookaround) is refused with a 422 naming
the field.
"""

from __future__ import annotations

import uuid

from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import IpAuthEntry, MatchKind, RewriteRule, RewriteTarget, SipUser
from libs.errors import NotFound
from libs.liveconfig.snapshot import rewrite_config
from libs.routing import (
    InvalidPattern,
    ParameterRewriteRule,
    PatternKind,
    Regex,
    RewriteError,
    apply_rewrites,
)
from libs.routing import RewriteTarget as RoutingTarget
from services.switch_api.live import LiveConfig
from services.switch_api.rewrite_rules.repository import RewriteRuleRepository
from services.switch_api.rewrite_rules.schemas import (
    RewriteRuleCreate,
    RewriteRuleUpdate,
    RewriteStep,
    RewriteTest,
    RewriteTestResult,
)
from services.switch_api.rules import apply_changes, changes_of, invalid


def compile_rule(
    *,
    target: RewriteTarget,
    kind: MatchKind,
    match: str,
    replacement: str,
    order: int,
    rule_id: str = "",
    field: str = "",
) -> ParameterRewriteRule:
    """The routing rule, or a 422 naming the field at fault (``field`` prefixes it)."""
    if kind is MatchKind.REGEX:
        try:
            Regex(match)
        except InvalidPattern as exc:
            raise invalid(f"{field}match", str(exc)) from None
    elif any(c.isspace() for c in match):
        raise invalid(f"{field}match", "a prefix cannot contain white space")
    try:
        return ParameterRewriteRule(
            RoutingTarget(target.value),
            PatternKind(kind.value),
            match,
            replacement,
            order=order,
            id=rule_id,
        )
    except InvalidPattern as exc:
        raise invalid(f"{field}replacement", str(exc)) from None


class RewriteRuleService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.rules = RewriteRuleRepository(uow.session)

    async def list(
        self,
        *,
        ip_auth_id: uuid.UUID | None,
        sip_user_id: uuid.UUID | None,
        target: RewriteTarget | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[RewriteRule]:
        statement = self.rules.filtered(
            ip_auth_id=ip_auth_id, sip_user_id=sip_user_id, target=target
        )
        return await list_page(self.rules, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, rule_id: uuid.UUID) -> RewriteRule:
        rule = await self.rules.get(rule_id)
        if rule is None:
            raise NotFound(f"No rewrite rule with id {rule_id}")
        return rule

    async def create(self, data: RewriteRuleCreate) -> RewriteRule:
        await self._check_owner(data.ip_auth_id, data.sip_user_id)
        compile_rule(
            target=data.target,
            kind=data.kind,
            match=data.match,
            replacement=data.replacement,
            order=data.order,
        )
        rule = RewriteRule(
            ip_auth_id=data.ip_auth_id,
            sip_user_id=data.sip_user_id,
            target=data.target,
            kind=data.kind,
            match=data.match,
            replacement=data.replacement,
            position=data.order,
        )
        await self.rules.add(rule)
        self.live.put(self.uow, rewrite_config(rule))
        return rule

    async def update(self, rule_id: uuid.UUID, data: RewriteRuleUpdate) -> RewriteRule:
        rule = await self.get(rule_id)
        changes = changes_of(data)
        if "order" in changes:
            changes["position"] = changes.pop("order")
        apply_changes(rule, changes)
        compile_rule(
            target=rule.target,
            kind=rule.kind,
            match=rule.match,
            replacement=rule.replacement,
            order=rule.position,
        )
        await self.rules.flush()
        self.live.put(self.uow, rewrite_config(rule))
        return rule

    async def delete(self, rule_id: uuid.UUID) -> None:
        await self.rules.delete(await self.get(rule_id))
        self.live.delete(self.uow, [("rewrite", rule_id)])

    async def test(self, data: RewriteTest) -> RewriteTestResult:
        compiled: list[tuple[uuid.UUID | None, ParameterRewriteRule]] = []
        if data.ip_auth_id is not None or data.sip_user_id is not None:
            await self._check_owner(data.ip_auth_id, data.sip_user_id)
            for row in await self.rules.of_owner(
                ip_auth_id=data.ip_auth_id, sip_user_id=data.sip_user_id
            ):
                compiled.append(
                    (
                        row.id,
                        compile_rule(
                            target=row.target,
                            kind=row.kind,
                            match=row.match,
                            replacement=row.replacement,
                            order=row.position,
                            rule_id=str(row.id),
                        ),
                    )
                )
        for index, draft in enumerate(data.rules):
            compiled.append(
                (
                    None,
                    compile_rule(
                        target=draft.target,
                        kind=draft.kind,
                        match=draft.match,
                        replacement=draft.replacement,
                        order=draft.order,
                        field=f"rules.{index}.",
                    ),
                )
            )
        ids = {id(rule): rule_id for rule_id, rule in compiled}
        try:
            output, steps = apply_rewrites(
                [rule for _, rule in compiled], data.input, target=RoutingTarget(data.target.value)
            )
        except RewriteError as exc:
            raise invalid("input", str(exc)) from None
        return RewriteTestResult(
            input=data.input,
            output=output,
            steps=[
                RewriteStep(
                    rule_id=ids.get(id(step.rule)),
                    order=step.rule.order,
                    kind=MatchKind(step.rule.kind.value),
                    match=step.rule.match,
                    replacement=step.rule.replacement,
                    before=step.before,
                    after=step.after,
                    matched=step.matched,
                )
                for step in steps
            ],
        )

    async def _check_owner(
        self, ip_auth_id: uuid.UUID | None, sip_user_id: uuid.UUID | None
    ) -> None:
        if ip_auth_id is not None and await self.uow.session.get(IpAuthEntry, ip_auth_id) is None:
            raise invalid("ip_auth_id", f"no IP authentication entry with id {ip_auth_id}")
        if sip_user_id is not None and await self.uow.session.get(SipUser, sip_user_id) is None:
            raise invalid("sip_user_id", f"no SIP user with id {sip_user_id}")
