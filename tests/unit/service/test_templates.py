"""hooks.service.templates: syntax only; the resolver is always a stub here."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.service.templates import (
    Expanded,
    Mode,
    Path,
    Placeholder,
    Resolved,
    SecretKeyRef,
    Unresolved,
    expand,
    placeholders,
    single_placeholder,
    split_reference,
)

VALUES = {
    ("metadata", "name"): "api",
    ("resources", "auth-service", "url"): "http://auth-service.shop.svc.cluster.local:8080",
    ("resources", "db", "host"): "db.shop.svc.cluster.local",
    ("metadata", "annotations", "example.com/team"): "payments",
}
PASSWORD = SecretKeyRef(resource="db-creds", secret="api-db-creds", key="password")


def stub(path: Path) -> Resolved:
    if path == ("resources", "db-creds", "password"):
        return PASSWORD
    if path in VALUES:
        return VALUES[path]
    raise Unresolved(f"nothing at {'.'.join(path)}")


def never(path: Path) -> Resolved:
    raise AssertionError(f"must not be called (asked for {path})")


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("plain text", "plain text", id="no-placeholder"),
    pytest.param("${metadata.name}", "api", id="metadata-name"),
    pytest.param("url=${resources.auth-service.url}/v1", "url=http://auth-service.shop.svc.cluster.local:8080/v1",
                 id="hyphenated-name"),
    pytest.param("${metadata.name}-${resources.db.host}", "api-db.shop.svc.cluster.local", id="two"),
    pytest.param("team=${metadata.annotations.example\\.com/team}", "team=payments", id="escaped-dot"),
    pytest.param("$${metadata.name}", "${metadata.name}", id="escape"),
    pytest.param("PORT=$${PORT:-${metadata.name}}", "PORT=${PORT:-api}", id="escape-then-placeholder"),
    pytest.param("$PATH and cost: $100 and $(HOME)", "$PATH and cost: $100 and $(HOME)", id="other-dollars"),
    pytest.param("$", "$", id="lone-dollar"),
    pytest.param("{x} $ {y}", "{x} $ {y}", id="braces"),
    pytest.param("", "", id="empty"),
])
def test_expand_text(text: str, expected: str) -> None:
    expanded = expand(text, stub)
    assert expanded.ok, expanded.errors
    assert expanded.text == expected


def test_no_expand_is_verbatim() -> None:
    text = "${metadata.name} $${x} ${"
    assert expand(text, never, Mode.NO_EXPAND) == Expanded((text,))


def test_reverse_expand_swaps_roles() -> None:
    expanded = expand("literal ${HOME}, resolved $${metadata.name}", stub, Mode.REVERSE_EXPAND)
    assert expanded.text == "literal ${HOME}, resolved api"


def test_secret_reference_stays_a_reference() -> None:
    expanded = expand("user:${resources.db-creds.password}@host", stub)
    assert expanded.parts == ("user:", PASSWORD, "@host")
    assert expanded.secret_refs == (PASSWORD,)
    assert expanded.has_secrets
    with pytest.raises(ValueError, match="secret references"):
        _ = expanded.text


def test_single_secret_is_one_part() -> None:
    assert expand("${resources.db-creds.password}", stub).parts == (PASSWORD,)


# score-go's framework/substitution_test.go vectors (as facts: same inputs, same outputs).
@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("abc $$ abc", "abc $ abc", id="dollar-dollar-anywhere"),
    pytest.param("$$$$", "$$", id="runs-pair-off"),
    pytest.param("$${abc}", "${abc}", id="escaped-placeholder"),
    pytest.param("$$$${abc}", "$${abc}", id="four-then-brace"),
    pytest.param("$${abc .4t3298y *(^&(*}", "${abc .4t3298y *(^&(*}", id="escaped-junk"),
    pytest.param("$abc", "$abc", id="lone-dollar-word"),
    pytest.param("cost $", "cost $", id="trailing-dollar"),
    pytest.param("x ${resources.db", "x ${resources.db", id="unterminated-is-literal"),
    pytest.param("my name is ${metadata.name}", "my name is api", id="placeholder"),
    pytest.param("$$${metadata.name}", "$api", id="odd-run-then-placeholder"),
])
def test_score_vectors(text: str, expected: str) -> None:
    expanded = expand(text, stub)
    assert expanded.ok, expanded.errors
    assert expanded.text == expected


@pytest.mark.parametrize(("text", "path"), [
    pytest.param("${a\\b}", ("a\\b",), id="other-backslash-stays"),
    pytest.param("${resources..host}", ("resources", "", "host"), id="empty-segment-kept"),
    pytest.param("${}", ("",), id="empty"),
    pytest.param("${a\\.b.c}", ("a.b", "c"), id="escaped-dot"),
])
def test_reference_splitting(text: str, path: tuple[str, ...]) -> None:
    (p,) = placeholders(text)
    assert p.path == path


def test_no_expand_keeps_dollar_dollar() -> None:
    assert expand("a $$ b $${x}", never, Mode.NO_EXPAND).text == "a $$ b $${x}"


@pytest.mark.parametrize(("text", "messages"), [
    pytest.param("${resources.nope.host}",
                 ["unknown reference '${resources.nope.host}': nothing at resources.nope.host"], id="unknown"),
    pytest.param("${a} and ${b}", ["unknown reference '${a}': nothing at a", "unknown reference '${b}': nothing at b"],
                 id="every-error"),
    pytest.param("${}", ["unknown reference '${}': nothing at "], id="empty"),
])
def test_errors(text: str, messages: list[str]) -> None:
    expanded = expand(text, stub)
    assert not expanded.ok
    assert [str(e) for e in expanded.errors] == messages


def test_missing_dependency_is_carried() -> None:
    def resolve(path: Path) -> Resolved:
        missing = "LatticeExternalService shop/stripe"
        raise Unresolved(f"{missing} does not exist yet", missing=missing)

    (error,) = expand("${resources.stripe.url}", resolve).errors
    assert error.missing == "LatticeExternalService shop/stripe"
    assert error.reference == "${resources.stripe.url}"


def test_placeholders_lists_every_reference_in_order() -> None:
    text = "${a.b} $${not.this} ${c\\.d.e} ${broken"
    assert placeholders(text) == (Placeholder(("a", "b"), "${a.b}"), Placeholder(("c.d", "e"), "${c\\.d.e}"))
    assert expand(text, lambda p: "x").text == "x ${not.this} x ${broken"
    assert placeholders(text, Mode.NO_EXPAND) == ()
    assert placeholders("$${x.y} ${z}", Mode.REVERSE_EXPAND) == (Placeholder(("x", "y"), "$${x.y}"),)


@pytest.mark.parametrize(("text", "expected"), [
    ("${resources.cache}", Placeholder(("resources", "cache"), "${resources.cache}")),
    (" ${resources.cache}", None),
    ("${resources.cache}/x", None),
    ("$${resources.cache}", None),
    ("cache", None),
])
def test_single_placeholder(text: str, expected: Placeholder | None) -> None:
    assert single_placeholder(text) == expected


def test_resolved_values_are_not_rescanned() -> None:
    def resolve(path: Path) -> Resolved:
        return "${metadata.name}"

    assert expand("${x}", resolve).text == "${metadata.name}"


def _scan_reference(text: str) -> str:
    """The Score scan one match at a time (what the scanner did before it worked per placeholder),
    each placeholder replaced by its split path."""
    out: list[str] = []
    pos = 0
    for m in re.finditer(r"\$(\$|\{([^}]*)\})", text):
        out.append(text[pos:m.start()])
        pos = m.end()
        out.append("$" if m.group(1) == "$" else f"<{split_reference(m.group(2))!r}>")
    return "".join([*out, text[pos:]])


@given(st.text(alphabet="${}a.\\", max_size=24))
def test_the_scan_per_placeholder_equals_the_scan_per_match(text: str) -> None:
    assert expand(text, lambda path: f"<{path!r}>").text == _scan_reference(text)


def test_a_megabyte_of_escapes_is_linear() -> None:
    import time

    started = time.perf_counter()
    assert expand("$$" * 500_000 + "${a}", lambda path: "x").text == "$" * 500_000 + "x"
    assert time.perf_counter() - started < 1.0
