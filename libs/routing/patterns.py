"""Operator-written patterns: literal prefixes and linear-time regular expressions.

Operator regexes run on every call, so they must not be able to stall the switch. They are
compiled with Google's RE2 (the ``google-re2`` bindings), whose automata match in time linear in
the input: ``(a+)+$`` on a long string of ``a``\\ s followed by ``b`` — catastrophic for Python's
backtracking :mod:`re` — takes microseconds. Patterns RE2 cannot run in linear time
(backreferences ``\\1``, lookaround ``(?=…)``, possessive quantifiers) fail to compile and are
refused with :class:`InvalidPattern`, as are patterns longer than :data:`MAX_PATTERN_LENGTH`
characters or whose program would exceed RE2's memory budget (:data:`RE2_MAX_MEMORY`).

Regex syntax is RE2's (a subset of Python's/PCRE's, see github.com/google/re2/wiki/Syntax);
matching uses *search* semantics — anchor with ``^`` / ``$`` as needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import re2

from libs.routing.errors import InvalidPattern

__all__ = [
    "MAX_PATTERN_LENGTH",
    "RE2_MAX_MEMORY",
    "DialPattern",
    "PatternKind",
    "Regex",
    "RegexMatch",
]

#: The longest regex accepted, in characters.
MAX_PATTERN_LENGTH = 1024
#: RE2's memory budget for one compiled pattern; a bigger program is refused.
RE2_MAX_MEMORY = 1 << 20


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print parse errors to stderr; we raise instead
    options.max_mem = RE2_MAX_MEMORY
    return options


_OPTIONS = _options()


@dataclass(frozen=True, slots=True)
class RegexMatch:
    """Where a :class:`Regex` matched: the span and every group (``None`` if it took no part)."""

    start: int
    end: int
    groups: tuple[str | None, ...]
    named: dict[str, int] = field(repr=False, compare=False)

    def group(self, key: int | str) -> str | None:
        """Group ``key`` (a number, 0 for the whole match, or a name)."""
        index = self.named[key] if isinstance(key, str) else key
        return self.groups[index]


class Regex:
    """A regular expression compiled by RE2: linear-time matching, or refused at construction."""

    __slots__ = ("_compiled", "group_count", "group_names", "pattern")

    pattern: str
    group_count: int
    group_names: dict[str, int]
    _compiled: Any

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str):
            raise InvalidPattern(f"a regular expression is a string, not {pattern!r}")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise InvalidPattern(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
        try:
            compiled = re2.compile(pattern, options=_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise InvalidPattern(
                f"regular expression {pattern!r} refused (RE2 runs only linear-time patterns): "
                f"{reason}"
            ) from None
        self.pattern = pattern
        self._compiled = compiled
        self.group_count = int(compiled.groups)
        self.group_names = {str(name): int(index) for name, index in compiled.groupindex.items()}

    def search(self, text: str) -> RegexMatch | None:
        """The first match anywhere in ``text``, or ``None``."""
        match = self._compiled.search(text)
        if match is None:
            return None
        groups = tuple(match.group(index) for index in range(self.group_count + 1))
        return RegexMatch(int(match.start()), int(match.end()), groups, self.group_names)

    def matches(self, text: str) -> bool:
        """True if the regex matches anywhere in ``text`` (search semantics)."""
        return self._compiled.search(text) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


class PatternKind(StrEnum):
    """How a :class:`DialPattern` matches."""

    PREFIX = "prefix"
    REGEX = "regex"


@dataclass(frozen=True, slots=True)
class DialPattern:
    """Which numbers a route (or a rule) applies to: a literal prefix or an RE2 regex.

    Build with :meth:`prefix` or :meth:`regex`. A prefix pattern matches numbers that start
    with it (the empty prefix matches everything); a regex pattern matches when the regex is
    found anywhere in the number.
    """

    kind: PatternKind
    value: str
    _regex: Regex | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise InvalidPattern(f"a pattern is a string, not {self.value!r}")
        if self.kind is PatternKind.REGEX and self._regex is None:
            object.__setattr__(self, "_regex", Regex(self.value))
        elif self.kind is PatternKind.PREFIX and len(self.value) > MAX_PATTERN_LENGTH:
            raise InvalidPattern(f"prefix longer than {MAX_PATTERN_LENGTH} characters")

    @classmethod
    def prefix(cls, prefix: str) -> DialPattern:
        """Numbers starting with ``prefix``."""
        return cls(PatternKind.PREFIX, prefix)

    @classmethod
    def regex(cls, pattern: str) -> DialPattern:
        """Numbers in which the RE2 regex ``pattern`` is found (anchor with ``^``/``$``)."""
        return cls(PatternKind.REGEX, pattern)

    def matches(self, number: str) -> bool:
        """True if ``number`` is one of this pattern's numbers."""
        if self._regex is None:
            return number.startswith(self.value)
        return self._regex.matches(number)

    @property
    def specificity(self) -> int:
        """The literal prefix's length (0 for a regex): longer patterns win among routes."""
        return len(self.value) if self.kind is PatternKind.PREFIX else 0
