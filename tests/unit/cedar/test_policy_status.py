"""CedarPolicy status: counts, every parse and schema error with statement index and line."""

from hypothesis import given
from hypothesis import strategies as st

from crds.cedar_policy import CedarPolicyPhase, PolicyMode
from hooks.cedar_policy import compile_cedar_policy, resync_after_seconds
from lattice_cedar import split_statements, validate_policy
from lattice_cedar.statements import parse_text

from .support import SECRET, policy


def test_valid_counts_permits_and_forbids() -> None:
    text = f"""permit(principal, {SECRET}, resource);
    forbid(principal, {SECRET}, resource) when {{ resource.path like "*/prod/*" }};
    permit(principal in Lattice::Group::"ops", action, resource);"""
    status = compile_cedar_policy(policy("p", text, generation=4), now="2026-01-01T00:00:00Z")
    assert status.phase is CedarPolicyPhase.VALID
    assert (status.permit_count, status.forbid_count) == (2, 1)
    assert status.message == "2 permit, 1 forbid statements"
    assert status.last_validated == "2026-01-01T00:00:00Z"
    assert status.observed_generation == 4
    assert status.conditions[0].type == "Ready" and status.conditions[0].status == "True"
    assert resync_after_seconds(status) == 300


def test_disabled_is_valid_and_says_so() -> None:
    status = validate_policy(policy("p", "this is not cedar", enabled=False))
    assert status.phase is CedarPolicyPhase.VALID
    assert status.message == "Policy is disabled"
    assert (status.permit_count, status.forbid_count, status.validation_errors) == (0, 0, [])


def test_parse_errors_name_statement_and_line() -> None:
    text = f"""// header; with a semicolon
permit(principal, {SECRET}, resource) when {{ resource.path == "a;b" }}; // trailing; comment
forbid(principal, actio, resource);

permit(principal, {SECRET}, resource) whn {{ true }};
forbid(principal, {SECRET}, resource);"""
    status = validate_policy(policy("mixed", text))
    assert status.phase is CedarPolicyPhase.INVALID
    assert [(e.statement, e.line, e.policy_id) for e in status.validation_errors] == [
        (1, 3, "mixed.1"), (2, 5, "mixed.2"),
    ]
    assert "actio" in status.validation_errors[0].message
    assert "whn" in status.validation_errors[1].message
    assert (status.permit_count, status.forbid_count) == (1, 1)  # the statements that parsed
    assert status.message == "2 error(s) in 2 of 4 statement(s)"
    assert resync_after_seconds(status) == 60


def test_schema_errors_name_statement_and_line() -> None:
    text = f"""permit(principal, {SECRET}, resource);
permit(principal, {SECRET}, resource)
  when {{ resource.pth == "x" }};
permit(principal, action == Lattice::Action::"Delete", resource);
permit(principal, {SECRET}, resource) when {{ principal.namespace == 3 }};"""
    errors = validate_policy(policy("typed", text)).validation_errors
    assert {(e.statement, e.line) for e in errors} == {(1, 2), (2, 4), (3, 5)}
    messages = " | ".join(e.message for e in errors)
    assert "attribute `pth` on entity type `Lattice::SecretPath` not found" in messages
    assert 'unrecognized action `Lattice::Action::"Delete"`' in messages
    assert "policy0" not in messages


def test_unterminated_last_statement() -> None:
    (err,) = validate_policy(policy("p", f"permit(principal, {SECRET}, resource)")).validation_errors
    assert err.statement == 0 and "not terminated" in err.message


def test_templates_and_empty_text_are_invalid() -> None:
    (tmpl,) = validate_policy(policy("p", "permit(principal == ?principal, action, resource);")).validation_errors
    assert "templates" in tmpl.message
    empty = validate_policy(policy("p", "  // nothing here;\n"))
    assert empty.phase is CedarPolicyPhase.INVALID and empty.validation_errors[0].message == "no Cedar statement found"


def test_outside_lattice_system_validated_but_flagged() -> None:
    status = validate_policy(policy("p", f"permit(principal, {SECRET}, resource);", namespace="team"))
    assert status.phase is CedarPolicyPhase.VALID and "not enforced" in (status.message or "")


def test_split_handles_strings_escapes_and_comments() -> None:
    text = ('permit(principal, action, resource) when { "a\\";//b" == "x" }; // ; "\n'
            'forbid(principal, action, resource);')
    stmts = split_statements(text)
    assert [(s.index, s.line) for s in stmts] == [(0, 1), (1, 2)]
    assert stmts[0].text.endswith('"x" };')
    assert all(p.parsed for p in parse_text(text))


_piece = st.text(alphabet=st.sampled_from(list('ab;/ *"\\\n')), max_size=12)


@given(st.lists(_piece, min_size=1, max_size=6))
def test_split_agrees_with_cedar_for_any_string_literals(literals: list[str]) -> None:
    def lit(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    stmts = [
        f"permit(principal, {SECRET}, resource) // {s.replace(chr(10), ' ')}\n  when {{ resource.path == {lit(s)} }};"
        for s in literals
    ]
    text = "\n".join(stmts)
    parsed = parse_text(text)
    assert len(parsed) == len(stmts)
    assert all(p.valid for p in parsed), [p.errors for p in parsed]


@given(st.text(alphabet=st.sampled_from(list('permitforbid(),;"\\/ \n*@{}=&|.:!<>0123456789abc')), max_size=80))
def test_any_text_is_split_and_reported_without_raising(text: str) -> None:
    stmts = split_statements(text)
    assert [s.index for s in stmts] == list(range(len(stmts)))
    assert all(1 <= s.line <= text.count("\n") + 1 for s in stmts)
    assert [s.line for s in stmts] == sorted(s.line for s in stmts)
    status = validate_policy(policy("fuzz", text))
    assert status.phase in (CedarPolicyPhase.VALID, CedarPolicyPhase.INVALID)


def test_audit_mode_says_it_is_never_enforced() -> None:
    status = validate_policy(policy("a", 'permit(principal, action == Lattice::Action::"AccessSecret", resource);',
                                    mode=PolicyMode.AUDIT))
    assert status.message == "1 permit, 0 forbid statements (Audit mode: evaluated and reported, never enforced)"
