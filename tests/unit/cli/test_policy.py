"""``lattice policy check -f``: every question on the README's examples, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = str(ROOT / "examples")
INTERN = "system:serviceaccount:default:intern-sa"
PLATFORM = "system:serviceaccounts:platform"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["policy", "check", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("caller", "callee", "port", "code"), [
    ("web-frontend", "api-gateway", "8080", 0),
    ("web-frontend", "api-gateway", "9999", 1),
    ("api-gateway", "web-frontend", "3000", 1),
    ("platform/api-gateway", "platform/stripe-api", "443", 0),
    ("auth-service", "stripe-api", "443", 1),
])
def test_from_to(capsys: pytest.CaptureFixture[str], caller: str, callee: str, port: str, code: int) -> None:
    got, out, _ = check(capsys, "-f", EXAMPLES, "-n", "platform", "--from", caller, "--to", callee, "--port", port)
    assert got == code
    assert out.splitlines()[0].endswith("allowed" if code == 0 else "denied")


def test_from_to_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "-f", EXAMPLES, "--from", "platform/web-frontend", "--to", "platform/api-gateway",
                         "-o", "json")
    body = json.loads(out)
    assert code == 0 and body["allowed"] and body["reasons"][0].startswith("agreed: ")
    assert any(o.startswith("AuthorizationPolicy platform/allow-to-api-gateway") for o in body["objects"])


@pytest.mark.parametrize(("secret", "code", "summary"), [
    ("db-creds", 0, "allowed: permitted by platform-database-secrets.0"),
    ("database/prod/api-gateway", 0, "allowed: permitted by platform-database-secrets.0"),
    ("vault-admin:ops/root", 0, "allowed: permitted by admin-vault-platform-only.0"),
    # every statement that can apply to a platform service: its two, and the two without an action scope
    ("vault-prod:secret/data/payments/db", 1, "denied: no permit matched (4 statements considered)"),
])
def test_service_secret(capsys: pytest.CaptureFixture[str], secret: str, code: int, summary: str) -> None:
    got, out, _ = check(capsys, "-f", EXAMPLES, "--service", "platform/api-gateway", "--secret", secret)
    assert got == code
    assert out.splitlines()[1].strip() == summary


def test_service_secret_needs_a_provider_when_undeclared(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "-f", EXAMPLES, "--service", "platform/api-gateway", "--secret", "other/path")
    assert code == 2 and "give its provider" in err


def test_payments_service_by_name_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "-f", EXAMPLES, "--service", "payments/checkout", "--secret",
                           "vault-prod:secret/data/payments/db")
    assert code == 0 and "permitted by payments-secrets.0" in out
    assert "no LatticeService payments/checkout; judged by its name" in err


@pytest.mark.parametrize(("user", "groups", "cluster", "code", "summary"), [
    ("alice", [PLATFORM], "production", 0, "allowed: permitted by allow-platform-team.0"),
    (INTERN, [PLATFORM], "production", 1, "denied: forbidden by deny-intern-prod.0"),
    (INTERN, [PLATFORM], "staging", 0, "allowed: permitted by allow-platform-team.0"),
    ("bob", [], "staging", 1, "denied: no permit matched (2 statements considered)"),
])
def test_user_cluster(capsys: pytest.CaptureFixture[str], user: str, groups: list[str], cluster: str, code: int,
                      summary: str) -> None:
    args = ["-f", EXAMPLES, "--user", user, "--cluster", cluster]
    for g in groups:
        args += ["--group", g]
    got, out, _ = check(capsys, *args)
    assert got == code and out.splitlines()[1].strip() == summary


def test_policy_flip_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    change = tmp_path / "forbid.yaml"
    change.write_text((ROOT / "examples/cedar/forbid-prod-secrets.yaml").read_text().replace(
        "enabled: false", "enabled: true"))
    code, out, _ = check(capsys, "-f", EXAMPLES, "--policy", str(change))
    assert code == 0
    lines = out.splitlines()
    clusters = sum(1 for f in (ROOT / "examples" / "clusters").glob("*.yaml")
                   for d in yaml.safe_load_all(f.read_text()) if d and d.get("kind") == "LatticeCluster")
    assert lines[0] == ("replace CedarPolicy forbid-prod-secrets (Enforce): 1 decision(s) flip "
                        f"(1 secret request(s), {clusters} cluster(s) in scope)")
    assert lines[2].split() == ["AccessSecret", "platform/api-gateway", "vault-prod:database/prod/api-gateway",
                                "(db-creds)", "allow", "deny", "forbid-prod-secrets.0"]


def test_policy_flip_list_on_clusters_and_audit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = ('apiVersion: lattice.dev/v1alpha1\nkind: CedarPolicy\nmetadata: {name: lock-prod, namespace: '
            'lattice-system}\nspec:\n  MODE\n  policies: |\n    forbid(principal, action == '
            'Lattice::Action::"AccessCluster", resource) when { resource has environment && '
            'resource.environment == "prod" };\n')
    change = tmp_path / "lock.yaml"
    change.write_text(text.replace("MODE", "mode: Enforce"))
    body = json.loads(check(capsys, "-f", EXAMPLES, "--policy", str(change), "-o", "json")[1])
    flipped = {(f["principal"], f["resource"]) for f in body["flips"]}
    assert (f"any member of group {PLATFORM}", "production") in flipped
    assert all(f["after"] == "deny" for f in body["flips"]) and body["audit"] == []
    change.write_text(text.replace("MODE", "mode: Audit"))
    body = json.loads(check(capsys, "-f", EXAMPLES, "--policy", str(change), "-o", "json")[1])
    assert body["mode"] == "Audit" and body["flips"] == []
    assert (f"any member of group {PLATFORM}", "production") in {(f["principal"], f["resource"]) for f in body["audit"]}


def test_audit_policy_reported_on_a_secret_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    audit = tmp_path / "audit.yaml"
    audit.write_text((ROOT / "examples/cedar/forbid-prod-secrets.yaml").read_text().replace(
        "enabled: false", "enabled: true\n  mode: Audit").replace("name: forbid-prod-secrets", "name: audit-prod"))
    code, out, _ = check(capsys, "-f", EXAMPLES, "-f", str(audit), "--service", "platform/api-gateway",
                         "--secret", "db-creds")
    assert code == 0  # the audit policy decides nothing
    assert ("audit: CedarPolicy audit-prod (Audit mode) would deny it (by audit-prod.0); not enforced"
            in [line.strip() for line in out.splitlines()])


@pytest.mark.parametrize("args", [
    [], ["--from", "a"], ["--from", "a", "--to", "b", "--service", "c", "--secret", "d"], ["--user", "u"],
])
def test_one_question_at_a_time(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert check(capsys, "-f", EXAMPLES, *args)[0] == 2
