"""An evaluator of CloudWatch Logs filter patterns: the empty pattern and the JSON-pattern subset this project uses.

Why it exists: no stand-in that runs here evaluates filter patterns. moto (5.2) answers TestMetricFilter with an
internal error, and its FilterLogEvents treats every JSON pattern as "match everything". So the patterns that
infra/subscribe.py installs are checked with this evaluator, which follows the documented semantics
(docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, "Using filter patterns to match
terms in JSON log events"):

- "" matches every event;
- `{ EXPR }` matches only events whose message is a JSON object; EXPR combines comparisons with `&&`, `||` and
  parentheses (`&&` binds tighter);
- a comparison is `SELECTOR OP VALUE`: SELECTOR is `$` followed by `.name` and `[index]` steps; OP is `=` or `!=`
  for strings (quoted, or bare with `*` as a wildcard) and `=`, `!=`, `<`, `>`, `<=`, `>=` for numbers;
  `SELECTOR IS TRUE|FALSE|NULL`, `SELECTOR NOT EXISTS` and `SELECTOR EXISTS` test booleans, null and presence;
- a comparison on a field that is absent, or of another JSON type than the value, does not match.

Term patterns for plain text (`ERROR`, `"exact phrase"`, `?a ?b`) and space-delimited patterns (`[ip, user, ...]`)
are not supported: `compile_pattern` refuses them rather than guess.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<logic>&&|\|\|)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<selector>\$(?:\.[A-Za-z0-9_@-]+|\[\d+\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<keyword>IS\s+TRUE|IS\s+FALSE|IS\s+NULL|NOT\s+EXISTS|EXISTS)\b
      | (?P<bare>[^\s()&|=!<>"]+)
    )""",
    re.VERBOSE,
)


class UnsupportedPatternError(ValueError):
    """A pattern outside the subset this evaluator implements."""


def _tokens(body: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(body.rstrip()):
        match = _TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise UnsupportedPatternError(f"cannot read the JSON pattern at {body[position:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, " ".join(match.group(kind).split())))
        position = match.end()
    return tokens


def _select(document: Any, selector: str) -> Any:
    """The value at `selector` ($.a.b[0]) or _MISSING."""
    value = document
    for name, index in re.findall(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]", selector):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _comparison(selector: str, op: str, kind: str, literal: str) -> Predicate:
    number = _number(literal) if kind == "bare" else None
    text = json.loads(literal) if kind == "string" else literal

    def compare(document: dict[str, Any]) -> bool:
        value = _select(document, selector)
        if value is _MISSING or value is None or isinstance(value, bool):
            return False
        if number is not None and isinstance(value, int | float):
            return {
                "=": value == number,
                "!=": value != number,
                "<": value < number,
                ">": value > number,
                "<=": value <= number,
                ">=": value >= number,
            }[op]
        if isinstance(value, str) and op in ("=", "!="):
            equal = fnmatch.fnmatchcase(value, text) if kind == "bare" and "*" in text else value == text
            return equal if op == "=" else not equal
        return False

    return compare


def _check(selector: str, keyword: str) -> Predicate:
    def check(document: dict[str, Any]) -> bool:
        value = _select(document, selector)
        return {
            "IS TRUE": value is True,
            "IS FALSE": value is False,
            "IS NULL": value is None,
            "NOT EXISTS": value is _MISSING,
            "EXISTS": value is not _MISSING,
        }[keyword]

    return check


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, kind: str) -> str:
        got_kind, value = self.peek()
        if got_kind != kind:
            raise UnsupportedPatternError(f"expected {kind}, found {value or 'the end'!r}")
        self.at += 1
        return value

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.peek() == ("logic", "||"):
            self.at += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda d: any(t(d) for t in terms)

    def conjunction(self) -> Predicate:
        terms = [self.term()]
        while self.peek() == ("logic", "&&"):
            self.at += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else lambda d: all(t(d) for t in terms)

    def term(self) -> Predicate:
        if self.peek() == ("paren", "("):
            self.at += 1
            inner = self.expression()
            self.take("paren")
            return inner
        selector = self.take("selector")
        kind, value = self.peek()
        if kind == "keyword":
            self.at += 1
            return _check(selector, value)
        op = self.take("op")
        kind, literal = self.peek()
        if kind not in ("string", "bare"):
            raise UnsupportedPatternError(f"expected a value after {selector} {op}, found {literal or 'the end'!r}")
        self.at += 1
        if kind == "string" and op not in ("=", "!="):
            raise UnsupportedPatternError(f"{op} compares numbers, not the string {literal}")
        return _comparison(selector, op, kind, literal)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A function telling whether an event message matches `pattern`."""
    stripped = pattern.strip()
    if not stripped:
        return lambda message: True
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise UnsupportedPatternError(
            f"only JSON patterns {{ ... }} and the empty pattern are supported, got {pattern!r}"
        )
    parser = _Parser(_tokens(stripped[1:-1]))
    predicate = parser.expression()
    if parser.peek()[0] != "end":
        raise UnsupportedPatternError(f"unexpected {parser.peek()[1]!r} in {pattern!r}")

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and predicate(document)

    return matches
