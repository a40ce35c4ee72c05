"""``lattice get mesh -f``: the README's examples and a mesh with every kind of edge, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
SHOP = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: checkout, namespace: shop}
spec:
  containers: {main: {image: shop/checkout:1}}
  service: {ports: {http: {port: 8080}}}
  resources:
    payments: {type: service, direction: outbound, namespace: pay}
    web: {type: service, direction: inbound}
    ledger: {type: service, direction: outbound}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: web, namespace: shop}
spec:
  containers: {main: {image: shop/web:1}}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: payments, namespace: pay}
spec:
  containers: {main: {image: pay/payments:1}}
  service: {ports: {grpc: {port: 9000}}}
  resources:
    "*": {type: service, direction: inbound, namespace: shop}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    return path


def mesh(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["get", "mesh", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_examples_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = mesh(capsys, "-f", str(EXAMPLES))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["FROM", "TO", "KIND", "STATUS", "PORTS", "NOTE"]
    assert [ln.split()[:4] for ln in lines[1:6]] == [
        ["platform/api-gateway", "platform/auth-service", "service", "agreed"],
        ["platform/api-gateway", "platform/redis", "service", "agreed"],
        ["platform/api-gateway", "platform/stripe-api", "external", "agreed"],
        ["platform/auth-service", "platform/redis", "service", "agreed"],
        ["platform/web-frontend", "platform/api-gateway", "service", "agreed"],
    ]
    assert lines[-1] == "5 edge(s): 5 agreed"


def test_every_kind_of_edge_with_fixes(capsys: pytest.CaptureFixture[str], shop: Path) -> None:
    code, out, _ = mesh(capsys, "-f", str(shop))
    assert code == 0
    assert "shop/checkout   pay/payments    service   agreed" in out
    assert "accepted by wildcard resources.*; cross-namespace" in out
    assert "wildcard: pay/payments accepts every caller of namespace shop that declares it (resources.*)" in out
    assert "3 edge(s): 1 agreed, 1 one-sided, 1 missing" in out
    fix = out.split("# shop/web must add, under spec (one-sided shop/web -> shop/checkout):\n")[1]
    assert yaml.safe_load(fix) == {"resources": {"checkout": {"type": "service", "direction": "outbound"}}}
    assert "# shop/ledger does not exist; create it with, under spec" in out


def test_json_and_namespace_filter(capsys: pytest.CaptureFixture[str], shop: Path) -> None:
    body = json.loads(mesh(capsys, "-f", str(shop), "-o", "json")[1])
    assert body["summary"] == {"agreed": 1, "one-sided": 1, "missing": 1, "blocked": 0}
    one = next(e for e in body["edges"] if e["status"] == "one-sided")
    assert (one["from"], one["to"], one["missingSide"], one["fixFor"]) == (
        "shop/web", "shop/checkout", "caller", "shop/web")
    only_pay = json.loads(mesh(capsys, "-f", str(shop), "-o", "json", "-n", "pay")[1])
    assert [(e["from"], e["to"]) for e in only_pay["edges"]] == [("shop/checkout", "pay/payments")]
    assert only_pay["services"] == ["pay/payments"]


def test_dot_and_mermaid(capsys: pytest.CaptureFixture[str], shop: Path) -> None:
    dot = mesh(capsys, "-f", str(shop), "-o", "dot")[1]
    assert dot.startswith("digraph mesh {") and dot.rstrip().endswith("}")
    assert 'label="payments\\naccepts * from shop"' in dot
    assert '[color="red", style="dashed", label="one-sided: caller missing"]' in dot
    assert 'label="ledger", style="dotted"' in dot  # a peer that does not exist
    mermaid = mesh(capsys, "-f", str(shop), "-o", "mermaid")[1]
    assert mermaid.startswith("flowchart LR\n")
    assert '-.->|"one-sided: caller missing"|' in mermaid and '-->|"*"|' in mermaid
    assert "class " in mermaid and "absent" in mermaid


def test_usage_errors(capsys: pytest.CaptureFixture[str], shop: Path) -> None:
    assert mesh(capsys, "-f", str(shop), "-n", "x", "-A")[0] == 2
    code, _, err = mesh(capsys, "-f", "/does/not/exist")
    assert code == 1 and 'the path "/does/not/exist" does not exist' in err
    assert mesh(capsys, "-f", str(shop), "-o", "svg")[0] == 2


def test_invalid_objects_are_left_out_with_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: lattice.dev/v1alpha1\nkind: LatticeService\nmetadata: {name: x}\nspec: {}\n")
    code, out, err = mesh(capsys, "-f", str(bad))
    assert code == 0 and "No service declarations found." in out
    assert err.startswith("warning: LatticeService default/x is left out: it does not validate")
