"""Rewrite rules and operator regexes: prefix and regex rules, templates, step traces, RE2."""

from __future__ import annotations

import time

import pytest

from libs.routing import (
    DialPattern,
    InvalidPattern,
    ParameterRewriteRule,
    PatternKind,
    Regex,
    RewriteError,
    RewriteTarget,
    apply_rewrites,
)

DEST = RewriteTarget.DESTINATION
CLI = RewriteTarget.CLI


def prefix_rule(
    match: str, replacement: str, order: int = 0, target: RewriteTarget = DEST
) -> ParameterRewriteRule:
    return ParameterRewriteRule.prefix(target, match, replacement, order=order, id=f"p{order}")


def regex_rule(
    match: str, replacement: str, order: int = 0, target: RewriteTarget = DEST
) -> ParameterRewriteRule:
    return ParameterRewriteRule.regex(target, match, replacement, order=order, id=f"r{order}")


# -- prefix rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "replacement", "number", "result"),
    [
        ("+", "", "+442071234567", "442071234567"),  # the reference's example: drop the '+'
        ("00", "", "00442071234567", "442071234567"),
        ("0", "44", "02071234567", "442071234567"),
        ("", "1", "2125550100", "12125550100"),  # an empty prefix prepends
        ("0", "44", "442071234567", "442071234567"),  # no match: unchanged
    ],
)
def test_prefix_rules(match: str, replacement: str, number: str, result: str) -> None:
    assert apply_rewrites([prefix_rule(match, replacement)], number)[0] == result


def test_rules_apply_in_order_each_to_the_previous_output() -> None:
    rules = [prefix_rule("44", "0044", order=2), prefix_rule("+", "", order=1)]
    result, steps = apply_rewrites(rules, "+442071234567")
    assert result == "00442071234567"
    assert [(step.rule.id, step.before, step.after, step.matched) for step in steps] == [
        ("p1", "+442071234567", "442071234567", True),
        ("p2", "442071234567", "00442071234567", True),
    ]


def test_steps_show_rules_that_did_not_match() -> None:
    result, steps = apply_rewrites([prefix_rule("00", ""), prefix_rule("+", "", 1)], "+33123")
    assert result == "33123"
    assert [step.matched for step in steps] == [False, True]
    assert steps[0].before == steps[0].after == "+33123"


def test_equal_orders_keep_the_given_order() -> None:
    rules = [prefix_rule("1", "2"), prefix_rule("2", "3")]
    assert apply_rewrites(rules, "1")[0] == "3"
    assert apply_rewrites(list(reversed(rules)), "1")[0] == "2"


def test_target_selects_destination_or_cli_rules() -> None:
    rules = [prefix_rule("+", "", target=CLI), prefix_rule("0", "44", target=DEST)]
    assert apply_rewrites(rules, "+4412", target=CLI) == (
        "4412",
        apply_rewrites(rules[:1], "+4412")[1],
    )
    result, steps = apply_rewrites(rules, "0207", target=DEST)
    assert result == "44207"
    assert len(steps) == 1


# -- regex rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "replacement", "number", "result"),
    [
        (r"^\+?00?(\d+)$", r"\1", "+00442071234567", "442071234567"),
        (r"^0(\d{10})$", r"44\1", "02071234567", "442071234567"),
        (r"^0(\d{10})$", r"44$1", "02071234567", "442071234567"),
        (r"^0(?P<national>\d+)$", r"44\g<national>", "0207", "44207"),
        (r"^0(?P<national>\d+)$", "44${national}", "0207", "44207"),
        (r"^0(\d+)$", r"44\g<1>", "0207", "44207"),
        (r"^(\d{3})", r"$$\\\1", "12345", "$\\12345"),  # literal dollar and backslash
        (r"(1)|(2)", r"[\1\2]", "2", "[2]"),  # a group outside the match expands to nothing
        (r"55", "", "15551", "151"),  # only the first match is replaced
        (r"^9", "x", "12", "12"),  # no match: unchanged
        ("anonymous", "0", "anonymous", "0"),  # CLIs are not always digits
    ],
)
def test_regex_rules(match: str, replacement: str, number: str, result: str) -> None:
    assert apply_rewrites([regex_rule(match, replacement)], number)[0] == result


@pytest.mark.parametrize(
    ("match", "replacement"),
    [
        (r"^(\d)", r"\2"),  # no group 2
        (r"^(\d)", "$2"),
        (r"^(\d)", r"\g<name>"),  # no such name
        (r"^(\d)", "${name}"),
        (r"^(\d)", r"\d"),  # not a template escape
        (r"^(\d)", r"\g<1"),  # unterminated
        (r"^(\d)", "${}"),
    ],
)
def test_templates_are_checked_against_the_regex(match: str, replacement: str) -> None:
    with pytest.raises(InvalidPattern):
        regex_rule(match, replacement)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a)\1",  # backreference: not regular
        r"(?=44)4",  # lookahead
        r"(?<!0)4",  # lookbehind
        r"a++",  # possessive
        "a{1001}",  # over RE2's repetition limit
        "(",  # plain syntax error
        "x" * 2000,  # over MAX_PATTERN_LENGTH
        "((((((((((a{1,1000}){1,1000}){1,1000}){1,1000})))))))",  # over the memory budget
    ],
)
def test_patterns_re2_cannot_run_in_linear_time_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidPattern):
        Regex(pattern)
    with pytest.raises(InvalidPattern):
        DialPattern.regex(pattern)
    with pytest.raises(InvalidPattern):
        regex_rule(pattern, "")


def test_a_pathological_regex_is_harmless() -> None:
    # (a+)+$ against "aaa…ab" backtracks exponentially in Python's re (2^n paths: it would not
    # finish here); RE2 compiles it to an automaton and answers in time linear in the input.
    hostile = "a" * 100_000 + "b"
    rule = regex_rule(r"(a+)+$", "x")
    started = time.perf_counter()
    result, steps = apply_rewrites([rule], hostile)
    assert result == hostile
    assert not steps[0].matched
    assert apply_rewrites([rule], "a" * 40)[0] == "x"
    assert not DialPattern.regex(r"(a+)+$").matches(hostile)
    assert DialPattern.regex(r"^(a|aa)+$").matches("a" * 100_000)
    assert time.perf_counter() - started < 1.0


def test_a_rule_that_grows_a_number_past_the_limit_is_an_error() -> None:
    doubling = [regex_rule(r"^(.*)$", r"\1\1", order) for order in range(10)]
    with pytest.raises(RewriteError):
        apply_rewrites(doubling, "12345")


def test_rule_kinds_and_targets_parse_from_names() -> None:
    rule = ParameterRewriteRule("cli", "regex", "^0", "44")  # type: ignore[arg-type]
    assert rule.target is CLI
    assert rule.kind is PatternKind.REGEX
    with pytest.raises(ValueError, match="'bogus'"):
        ParameterRewriteRule("bogus", "prefix", "0", "44")  # type: ignore[arg-type]


# -- dial patterns --------------------------------------------------------------------------


def test_dial_patterns() -> None:
    assert DialPattern.prefix("44").matches("442071234567")
    assert not DialPattern.prefix("44").matches("4")
    assert DialPattern.prefix("").matches("1")
    assert DialPattern.regex(r"^44(20|161)").matches("441611234567")
    assert not DialPattern.regex(r"^44(20|161)").matches("447700900123")
    assert DialPattern.regex("7700").matches("447700900123")  # search semantics
    assert DialPattern.prefix("4420").specificity == 4
    assert DialPattern.regex("^4420").specificity == 0


def test_regex_match_details() -> None:
    found = Regex(r"0(?P<rest>\d+)").search("+440207")
    assert found is not None
    assert (found.start, found.end) == (3, 7)
    assert found.group(0) == "0207"
    assert found.group("rest") == found.group(1) == "207"
    assert Regex("x").search("123") is None
    assert Regex("a") == Regex("a")
    assert hash(Regex("a")) == hash(Regex("a"))
