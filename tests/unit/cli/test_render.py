"""``lattice render``: examples/ end to end, output formats, and broken inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

import crds
from cli import render as render_mod
from cli.main import run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
NOTED = ("CedarPolicy", "CloudProvider", "OIDCProvider", "Provisioner")
CLUSTER_SCOPED = ("Namespace", "ClusterSecretStore", "AWSClusterStaticIdentity", "AWSClusterRoleIdentity")


def _render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_examples_render_cleanly_and_deterministically(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _render(capsys, "-f", str(EXAMPLES))
    assert code == 0
    assert [line.split()[1] for line in err.splitlines()] == list(NOTED)
    again = _render(capsys, "-f", str(EXAMPLES))[1]
    assert out == again
    objs = list(yaml.safe_load_all(out))
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "Service", "ServiceAccount", "CiliumNetworkPolicy", "AuthorizationPolicy",
            "ExternalSecret", "ServiceEntry", "ClusterSecretStore", "Gateway", "Namespace"} <= kinds
    assert objs[0]["kind"] == "Namespace"
    platform = next(o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] == "platform")
    assert platform["metadata"]["labels"]["istio.io/use-waypoint"] == "platform-waypoint"
    # every namespaced object carries its namespace, so the output can be applied as is
    assert all(o["metadata"].get("namespace") for o in objs if o["kind"] not in CLUSTER_SCOPED)
    keys = [(o["kind"] != "Namespace", o["metadata"].get("namespace", ""), o["kind"], o["metadata"]["name"])
            for o in objs]
    assert keys == sorted(keys)


def test_json_is_one_v1_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _render(capsys, "-f", str(EXAMPLES), "-o", "json")
    assert code == 0
    doc = orjson.loads(out)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    assert doc["items"] == list(yaml.safe_load_all(_render(capsys, "-f", str(EXAMPLES))[1]))


def test_cluster_name_sets_the_trust_domain(capsys: pytest.CaptureFixture[str]) -> None:
    out = _render(capsys, "-f", str(EXAMPLES), "--cluster-name", "prod")[1]
    assert "lattice.prod.local/ns/platform/sa/" in out and "lattice.default.local" not in out


def test_several_files_and_folders(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _render(capsys, "-f", str(EXAMPLES / "services" / "redis.yaml"),
                           "-f", str(EXAMPLES / "services" / "auth-service.yaml"), "-f", str(EXAMPLES / "cedar"))
    assert code == 0
    names = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(out)}
    assert ("Deployment", "redis") in names and ("Deployment", "auth-service") in names


BROKEN = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: bad, namespace: shop}
spec:
  containers: {main: {image: "has space"}}
  replicas: {min: 3, max: 1}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: good, namespace: shop}
spec:
  containers: {main: {image: good:1}}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeCluster
metadata: {name: tiny}
spec: {providerRef: docker}
---
apiVersion: lattice.dev/v1alpha1
kind: CloudProvider
metadata: {name: aws, namespace: lattice-system}
spec: {type: aws}
---
apiVersion: lattice.dev/v1alpha1
kind: Frobnicator
metadata: {name: f}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-ours}
"""


def test_broken_inputs_are_reported_and_nothing_is_printed(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "objects.yaml").write_text(BROKEN)
    code, out, err = _render(capsys, "-f", str(tmp_path))
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == ("error: 4 inputs failed; nothing printed "
                                    "(--partial prints the objects that compiled)")
    code, out, err = _render(capsys, "-f", str(tmp_path), "--partial")
    assert code == 1
    lines = err.splitlines()
    assert lines[-1].startswith("warning: 4 inputs failed; --partial: printing the ")
    lines = lines[:-1]
    assert lines[0] == f"warning: {tmp_path / 'objects.yaml'}: skipping Deployment not-ours (not a lattice.dev object)"
    failures = lines[1:]
    bad = [line for line in failures if line.startswith("LatticeService shop/bad: ")]
    assert len(bad) == 1 and "spec.replicas.min" in bad[0] and "spec.containers.main.image" in bad[0]
    assert any(line.startswith("LatticeCluster tiny: ") and "spec.provider: required" in line for line in failures)
    assert "CloudProvider lattice-system/aws: credentialsSecretRef: required for type 'aws'" not in failures
    assert any(line.startswith("CloudProvider lattice-system/aws: ") for line in failures)
    assert any(line.startswith("Frobnicator default/f: kind: unknown kind") for line in failures)
    assert not any("good" in line for line in failures)
    assert ("Deployment", "good") in {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(out)}


def test_unreadable_yaml_and_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text("key: [unclosed\n")
    svc = (EXAMPLES / "services" / "redis.yaml").read_text()
    (tmp_path / "b.yaml").write_text(svc)
    (tmp_path / "c.yml").write_text(svc)
    code, out, err = _render(capsys, "-f", str(tmp_path))
    assert code == 1 and out == ""
    assert f"{tmp_path / 'a.yaml'}: cannot read:" in err
    assert "LatticeService platform/redis: defined 2 times" in err.splitlines()
    assert "Deployment" in _render(capsys, "-f", str(tmp_path), "--partial")[1]


def test_missing_path_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _render(capsys, "-f", "/no/such/dir")
    assert code == 1 and out == ""
    assert err == 'error: the path "/no/such/dir" does not exist\n'


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render"]) == 2
    assert "Missing option" in capsys.readouterr().err
    assert run(["render", "-f", str(EXAMPLES), "-o", "xml"]) == 2


def test_kinds_without_objects_of_their_own_get_one_note_each_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err = _render(capsys, "-f", str(EXAMPLES))
    assert err.splitlines() == [
        "note: CedarPolicy yields no objects of its own (6 read): by design: policies decide which secrets a "
        "LatticeService may read (its ExternalSecrets, or a denial reported here)",
        "note: CloudProvider yields no objects of its own (4 read): by design: its controller reports in status "
        "whether the account's credentials are usable; the LatticeClusters naming it are rendered with it",
        "note: OIDCProvider yields no objects of its own (1 read): validated only; it is for the authenticating "
        "API proxy, which is not built yet",
        "note: Provisioner yields no objects of its own (1 read): by design: it provisions the resources of the "
        "LatticeServices that use its type and class (their children)",
    ]
    assert "note:" not in out
    _, _, err = _render(capsys, "-f", str(EXAMPLES / "services"), "-f", str(EXAMPLES / "secrets"))
    assert "note:" not in err


@pytest.mark.parametrize("folder", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_every_example_folder_yields_objects_or_says_why(folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    # --partial: examples/services alone lacks the CedarPolicies of examples/cedar (one denial)
    _, out, err = _render(capsys, "-f", str(EXAMPLES / folder), "--partial")
    if list(yaml.safe_load_all(out)):
        return
    kinds = {doc["kind"] for f in (EXAMPLES / folder).glob("*.yaml") for doc in yaml.safe_load_all(f.read_text())}
    noted = {line.split()[1] for line in err.splitlines() if line.startswith("note: ")}
    assert kinds <= noted


def test_every_cluster_example_renders_its_cluster_api_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _render(capsys, "-f", str(EXAMPLES / "clusters"))
    assert code == 0, err
    objs = list(yaml.safe_load_all(out))
    clusters = [d["metadata"]["name"] for f in sorted((EXAMPLES / "clusters").glob("*.yaml"))
                for d in yaml.safe_load_all(f.read_text()) if d["kind"] == "LatticeCluster"]
    assert len(clusters) == 9
    for name in clusters:
        mine = [o for o in objs if o["metadata"].get("namespace") == f"capi-{name}"]
        kinds = {o["kind"] for o in mine}
        assert {"Cluster", "MachineDeployment"} <= kinds, name
        assert kinds & {"KubeadmControlPlane", "RKE2ControlPlane"}, name
        assert any(o["kind"] == "Namespace" and o["metadata"]["name"] == f"capi-{name}" for o in objs)
    assert not [line for line in err.splitlines() if not line.startswith("note: CloudProvider")]


def test_the_list_of_kinds_without_objects_is_current() -> None:
    assert set(render_mod.NO_OBJECTS) <= set(crds.convert.kinds())
    # A kind whose controller now declares children yields objects: drop it from NO_OBJECTS.
    assert [kind for kind in render_mod.NO_OBJECTS if render_mod.yields_children(kind)] == []


def test_make_render_stdout_is_exactly_the_objects(capsys: pytest.CaptureFixture[str]) -> None:
    """``make render > out.yaml`` is valid input for kubectl: no make echo, no setup output, no notes.

    Runs the Makefile's render recipe with this interpreter's environment (``-o setup``: the venv in use
    is not rebuilt); a cold setup prints to stderr too, which the fresh-clone CI run exercises.
    """
    result = subprocess.run(["make", "--no-print-directory", "-o", "setup", f"VENV={sys.prefix}", "render"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == _render(capsys, "-f", str(EXAMPLES))[1]
    assert result.stdout.startswith("---\napiVersion: ")
    assert all(o["apiVersion"] and o["kind"] and o["metadata"]["name"] for o in yaml.safe_load_all(result.stdout))
    assert [line.split()[:2] for line in result.stderr.splitlines()] == [["note:", kind] for kind in NOTED]


def test_reproduction_one_broken_input_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #13: `-f examples/ -f broken.yaml` printed all 49 objects and exited 1, so
    `lattice render ... | kubectl apply -f -` applied a partial result."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN.split("---")[0])
    code, out, err = _render(capsys, "-f", str(EXAMPLES), "-f", str(broken))
    assert (code, out) == (1, "")
    assert "LatticeService shop/bad: " in err and "nothing printed" in err
    code, out, _ = _render(capsys, "-f", str(EXAMPLES), "-f", str(broken), "-o", "json")
    assert (code, out) == (1, "")
