"""CedarPolicy text → statements: split, parse one by one, validate against the schema.

cedarpy reports parse errors without any position, so the text is split into statements here
(a ``;`` outside string literals and ``//`` comments ends a statement — Cedar has no other use
for ``;``) and each statement is parsed on its own. An error therefore always names its
statement index and the line the statement starts on.

Results are cached by text: the same text is parsed once per process.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Literal

import attrs
import cedarpy

from lattice_cedar.schema import ACTION, SERVICE, parsed_schema

Effect = Literal["permit", "forbid"]


@attrs.frozen
class Statement:
    """One statement of a text, as written."""

    index: int  # 0-based position among the text's statements
    line: int  # 1-based line of its first character
    text: str
    terminated: bool = True  # False: the text ended before a ';'


@attrs.frozen
class ParsedStatement:
    """A statement after parsing and schema validation."""

    index: int
    line: int
    text: str
    effect: Effect | None = None  # None when it did not parse
    est: str | None = None  # the statement in Cedar's JSON policy format (EST)
    actions: frozenset[str] | None = None  # Lattice actions it can apply to; None = every action
    # Service namespaces it can apply to (from `principal.namespace == "..."` conjuncts of its
    # `when` clauses, or a `principal == Lattice::Service::"ns/name"` scope); None = any.
    namespaces: frozenset[str] | None = None
    errors: tuple[str, ...] = ()

    @property
    def parsed(self) -> bool:
        return self.est is not None

    @property
    def valid(self) -> bool:
        return self.parsed and not self.errors


def split_statements(text: str) -> list[Statement]:
    """Split Cedar text at top-level ``;`` (strings and ``//`` comments are skipped over)."""
    out: list[Statement] = []
    n = len(text)
    i, line = 0, 1
    start: int | None = None
    start_line = 0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if start is None and not c.isspace():
            start, start_line = i, line
        if c == '"':
            i, line = _skip_string(text, i + 1, line)
            continue
        if c == ";" and start is not None:
            out.append(Statement(len(out), start_line, text[start : i + 1]))
            start = None
        i += 1
    if start is not None:
        out.append(Statement(len(out), start_line, text[start:].rstrip(), terminated=False))
    return out


def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
    """Index just past the string literal whose body starts at ``i``, and the line there."""
    n = len(text)
    while i < n and text[i] != '"':
        if text[i] == "\\":
            i += 1
        if i < n and text[i] == "\n":
            line += 1
        i += 1
    return i + 1, line


_POLICY_PREFIX = re.compile(r"^for policy `policy0`, ")


def _parse_one(stmt: Statement) -> ParsedStatement:
    try:
        doc = json.loads(cedarpy.policies_to_json_str(stmt.text))
    except ValueError as e:
        message = str(e) or "cannot parse statement"
        if not stmt.terminated:
            message = f"statement is not terminated by ';' ({message})"
        return ParsedStatement(stmt.index, stmt.line, stmt.text, errors=(message,))
    static: dict[str, Any] = doc.get("staticPolicies") or {}
    if doc.get("templates"):
        return ParsedStatement(stmt.index, stmt.line, stmt.text, errors=(
            "templates (?principal / ?resource slots) are not supported; write a concrete statement",))
    if len(static) != 1:  # cannot happen with a correct split; never trust it silently
        return ParsedStatement(stmt.index, stmt.line, stmt.text,
                               errors=(f"expected one statement, found {len(static)}",))
    (est,) = static.values()
    errors: list[str] = []
    if not stmt.terminated:
        errors.append("statement is not terminated by ';'")
    result = cedarpy.validate_policies(stmt.text, parsed_schema())
    for err in result.errors:
        message = _POLICY_PREFIX.sub("", err.error)
        if message not in errors:
            errors.append(message)
    return ParsedStatement(
        stmt.index, stmt.line, stmt.text,
        effect="forbid" if est.get("effect") == "forbid" else "permit",
        est=json.dumps(est, separators=(",", ":"), sort_keys=True),
        actions=_actions(est.get("action") or {}),
        namespaces=_namespaces(est),
        errors=tuple(errors),
    )


def _actions(scope: dict[str, Any]) -> frozenset[str] | None:
    """The Lattice actions an action scope can match (None: unconstrained)."""
    op = scope.get("op")
    if op == "All":
        return None
    entities = scope.get("entities") or ([scope["entity"]] if "entity" in scope else [])
    return frozenset(
        str(e.get("id")) for e in entities if isinstance(e, dict) and e.get("type") == ACTION
    )


_PRINCIPAL_NAMESPACE = {".": {"left": {"Var": "principal"}, "attr": "namespace"}}


def _namespaces(est: dict[str, Any]) -> frozenset[str] | None:
    """The only principal namespaces that can satisfy the statement (None: no such limit).

    Sound because a statement is satisfied only if its scope matches and every `when` body is
    true, and `a && b` is true only if both are. (Only used for schema-valid statements, which
    cannot fail to evaluate, so leaving one out never hides an evaluation error.)
    """
    found: set[str] | None = None

    def narrow(values: set[str]) -> None:
        nonlocal found
        found = values if found is None else found & values

    scope = est.get("principal") or {}
    entity = scope.get("entity") or {}
    if scope.get("op") == "==" and entity.get("type") == SERVICE and "/" in str(entity.get("id")):
        narrow({str(entity["id"]).split("/", 1)[0]})
    for cond in est.get("conditions") or []:
        if cond.get("kind") != "when":
            continue
        for term in _conjuncts(cond.get("body")):
            eq = term.get("==") if isinstance(term, dict) else None
            if not isinstance(eq, dict):
                continue
            left, right = eq.get("left"), eq.get("right")
            for attr, value in ((left, right), (right, left)):
                if attr == _PRINCIPAL_NAMESPACE and isinstance(value, dict) and isinstance(value.get("Value"), str):
                    narrow({value["Value"]})
    return None if found is None else frozenset(found)


def _conjuncts(body: Any) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("&&"), dict):
        return [*_conjuncts(body["&&"].get("left")), *_conjuncts(body["&&"].get("right"))]
    return [body]


@functools.lru_cache(maxsize=2048)
def parse_text(text: str) -> tuple[ParsedStatement, ...]:
    """Every statement of ``text``, parsed and validated (cached by text)."""
    return tuple(_parse_one(s) for s in split_statements(text))
