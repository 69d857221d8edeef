"""Parameter rewrite rules: turning the numbers a customer sends into the form routing expects.

Behaviour follows the reference's "Parameter Rewrite" tab: a rule has a *type* (the destination
number or the CLI), a *current* value to match — a literal prefix or a regular expression — and
a *new* value to put in its place, and the rules apply in ``order``. Every matching rule applies,
each to the previous rule's output; :func:`apply_rewrites` returns the result and one step per
rule, which is what the administration API's *test* action shows.

Replacement of a prefix rule: the matched prefix is replaced by the literal ``replacement``
(``+`` → ``""`` strips a plus; ``0`` → ``44`` makes a national number international; an empty
prefix always matches and prepends).

Replacement of a regex rule: the first match (RE2, search semantics) is replaced by the
template, which may name groups as ``\\1``…``\\99``, ``\\g<1>``, ``\\g<name>``, ``$1``…``$99``
or ``${name}``; ``\\\\`` and ``$$`` are a literal backslash and dollar. A group that took no part
in the match expands to nothing. Templates are checked against the regex when the rule is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from libs.routing.errors import InvalidPattern, RewriteError
from libs.routing.patterns import MAX_PATTERN_LENGTH, PatternKind, Regex

__all__ = [
    "MAX_NUMBER_LENGTH",
    "ParameterRewriteRule",
    "RewriteStep",
    "RewriteTarget",
    "apply_rewrites",
]

#: The longest number rewrite rules may produce; longer raises :class:`RewriteError`.
MAX_NUMBER_LENGTH = 128


class RewriteTarget(StrEnum):
    """Which parameter a rule rewrites."""

    DESTINATION = "destination"
    CLI = "cli"


_Piece = str | int  # a literal, or the index of a group


def _parse_template(template: str, regex: Regex) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    literal: list[str] = []
    index = 0
    size = len(template)

    def group(ref: str) -> int:
        if ref.isdigit() and ref.isascii():
            number = int(ref)
            if number > regex.group_count:
                raise InvalidPattern(
                    f"replacement names group {number} but {regex.pattern!r} has "
                    f"{regex.group_count}"
                )
            return number
        if ref not in regex.group_names:
            raise InvalidPattern(f"replacement names group {ref!r}, unknown to {regex.pattern!r}")
        return regex.group_names[ref]

    def closing(opening: int, close: str) -> tuple[str, int]:
        end = template.find(close, opening)
        if end < 0 or end == opening:
            raise InvalidPattern(f"unterminated group reference in replacement {template!r}")
        return template[opening:end], end + 1

    while index < size:
        char = template[index]
        ahead = template[index + 1] if index + 1 < size else ""
        ref: str | None = None
        if char == "\\":
            if ahead == "\\":
                literal.append("\\")
                index += 2
            elif ahead == "g" and template.startswith("<", index + 2):
                ref, index = closing(index + 3, ">")
            elif ahead.isdigit() and ahead.isascii():
                end = index + 2
                if end < size and template[end].isdigit() and template[end].isascii():
                    end += 1
                ref, index = template[index + 1 : end], end
            else:
                raise InvalidPattern(
                    f"unknown escape {char + ahead!r} in replacement {template!r} "
                    "(use \\\\ for a backslash)"
                )
        elif char == "$":
            if ahead == "$":
                literal.append("$")
                index += 2
            elif ahead == "{":
                ref, index = closing(index + 2, "}")
            elif ahead.isdigit() and ahead.isascii():
                end = index + 2
                if end < size and template[end].isdigit() and template[end].isascii():
                    end += 1
                ref, index = template[index + 1 : end], end
            else:
                literal.append("$")
                index += 1
        else:
            literal.append(char)
            index += 1
        if ref is not None:
            if literal:
                pieces.append("".join(literal))
                literal.clear()
            pieces.append(group(ref))
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


@dataclass(frozen=True, slots=True)
class ParameterRewriteRule:
    """One rewrite rule: in ``target``, replace ``match`` (a prefix or regex) by ``replacement``."""

    target: RewriteTarget
    kind: PatternKind
    match: str
    replacement: str
    order: int = 0
    id: str = ""
    _regex: Regex | None = field(default=None, repr=False, compare=False)
    _template: tuple[_Piece, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.target, RewriteTarget):
            object.__setattr__(self, "target", RewriteTarget(self.target))
        if not isinstance(self.kind, PatternKind):
            object.__setattr__(self, "kind", PatternKind(self.kind))
        if not isinstance(self.match, str) or not isinstance(self.replacement, str):
            raise InvalidPattern("a rule's match and replacement are strings")
        if len(self.replacement) > MAX_PATTERN_LENGTH or len(self.match) > MAX_PATTERN_LENGTH:
            raise InvalidPattern(f"a rule is limited to {MAX_PATTERN_LENGTH} characters")
        if self.kind is PatternKind.REGEX:
            regex = Regex(self.match)
            object.__setattr__(self, "_regex", regex)
            object.__setattr__(self, "_template", _parse_template(self.replacement, regex))

    @classmethod
    def prefix(
        cls, target: RewriteTarget, match: str, replacement: str, *, order: int = 0, id: str = ""
    ) -> ParameterRewriteRule:
        """A rule replacing the literal prefix ``match`` by ``replacement``."""
        return cls(target, PatternKind.PREFIX, match, replacement, order, id)

    @classmethod
    def regex(
        cls, target: RewriteTarget, match: str, replacement: str, *, order: int = 0, id: str = ""
    ) -> ParameterRewriteRule:
        """A rule replacing the first match of the RE2 regex ``match`` by the template."""
        return cls(target, PatternKind.REGEX, match, replacement, order, id)

    def apply(self, number: str) -> str | None:
        """``number`` rewritten by this rule, or ``None`` if the rule does not match it."""
        if self._regex is None:
            if not number.startswith(self.match):
                return None
            return self.replacement + number[len(self.match) :]
        found = self._regex.search(number)
        if found is None:
            return None
        expanded = "".join(
            piece if isinstance(piece, str) else (found.groups[piece] or "")
            for piece in self._template
        )
        return number[: found.start] + expanded + number[found.end :]


@dataclass(frozen=True, slots=True)
class RewriteStep:
    """What one rule did: the number before and after it, and whether it matched."""

    rule: ParameterRewriteRule
    before: str
    after: str
    matched: bool


def apply_rewrites(
    rules: Iterable[ParameterRewriteRule],
    number: str,
    *,
    target: RewriteTarget | None = None,
) -> tuple[str, tuple[RewriteStep, ...]]:
    """Apply ``rules`` in ``order`` (ties keep their given order) and show each step.

    With ``target``, rules for the other parameter are skipped (and not listed in the steps).
    Raises :class:`RewriteError` if a rule makes the number longer than
    :data:`MAX_NUMBER_LENGTH` — a configuration problem (e.g. a rule that doubles its input),
    which sip_core answers like any routing failure.
    """
    selected = [rule for rule in rules if target is None or rule.target is target]
    selected.sort(key=lambda rule: rule.order)  # list.sort is stable
    steps: list[RewriteStep] = []
    current = number
    for rule in selected:
        result = rule.apply(current)
        if result is None:
            steps.append(RewriteStep(rule, current, current, matched=False))
            continue
        if len(result) > MAX_NUMBER_LENGTH:
            raise RewriteError(
                f"rule {rule.id or rule.match!r} made a number of {len(result)} characters "
                f"(the limit is {MAX_NUMBER_LENGTH})"
            )
        steps.append(RewriteStep(rule, current, result, matched=True))
        current = result
    return current, tuple(steps)
