"""lattice_cedar.statements: Cedar text split into statements, each parsed and checked on its own,
so every error names its statement and line."""

from __future__ import annotations

from lattice_cedar.statements import parse_text, split_statements

TEXT = """// two statements
permit(principal, action == Lattice::Action::"AccessSecret", resource)
  when { principal.namespace == "pay;ments" };
forbid(principal, action, resource);
"""


def test_a_semicolon_inside_a_string_or_comment_does_not_split() -> None:
    statements = split_statements(TEXT)
    assert [(s.index, s.line) for s in statements] == [(0, 2), (1, 4)]
    assert split_statements("permit(principal, action, resource)")[0].terminated is False


def test_each_statement_knows_its_effect_actions_and_namespaces() -> None:
    first, second = parse_text(TEXT)
    assert (first.effect, first.actions, first.namespaces, first.valid) == (
        "permit", frozenset({"AccessSecret"}), frozenset({"pay;ments"}), True)
    assert (second.effect, second.actions, second.namespaces) == ("forbid", None, None)
    (broken,) = parse_text("permit(principal, action, resource) when { resource.nope };")
    assert not broken.valid and broken.errors
