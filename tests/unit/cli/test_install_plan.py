"""cli.install_plan and cli.install_cmd's option handling: the inputs, the bootstrap choice, --dry-run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli.errors import LatticeError
from cli.install_cmd import split_bootstrap, with_provider
from cli.install_plan import BootstrapKind, parse_bootstrap, plan, read_inputs
from cli.main import run

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "examples" / "clusters" / "docker.yaml"


def test_bootstrap_choices(tmp_path: Path) -> None:
    assert parse_bootstrap(None, docker=False).kind is BootstrapKind.LOCAL
    assert parse_bootstrap(None, docker=True).kind is BootstrapKind.KIND
    config = tmp_path / "k"
    config.write_text("x")
    assert parse_bootstrap(f"kubeconfig={config}").kubeconfig == config
    with pytest.raises(LatticeError, match="no such file"):
        parse_bootstrap(f"kubeconfig={tmp_path / 'nope'}")
    with pytest.raises(LatticeError, match="expected local, kind or kubeconfig=PATH"):
        parse_bootstrap("cloud")


def test_bootstrap_takes_the_provider_and_the_cluster() -> None:
    assert split_bootstrap(["RKE2", "local"]) == ("rke2", "local")
    assert split_bootstrap(None) == (None, None)
    with pytest.raises(LatticeError, match="invalid --bootstrap 'k3s'"):
        split_bootstrap(["k3s"])
    inputs = with_provider(read_inputs([DOCKER]), "rke2")
    assert inputs.cluster.spec.provider.kubernetes.bootstrap.value == "rke2"


def test_inputs_need_exactly_one_valid_cluster_and_its_provider(tmp_path: Path) -> None:
    inputs = read_inputs([DOCKER])
    assert inputs.name == "dev" and inputs.machines() == 3 and inputs.provider() is not None
    two = tmp_path / "two.yaml"
    doc = yaml.safe_load(DOCKER.read_text())
    other = {**doc, "metadata": {"name": "other"}}
    two.write_text(yaml.safe_dump_all([doc, other]))
    with pytest.raises(LatticeError, match="more than one LatticeCluster: dev, other"):
        read_inputs([two])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**doc, "spec": {**doc["spec"], "nodes": {"controlPlane": "three"}}}))
    with pytest.raises(LatticeError, match=r"spec\.nodes\.controlPlane"):
        read_inputs([bad])
    aws = tmp_path / "aws.yaml"
    aws.write_text((ROOT / "examples" / "clusters" / "aws.yaml").read_text())
    with pytest.raises(LatticeError, match="names CloudProvider 'aws-prod', which is not in the files"):
        read_inputs([aws])
    memory = tmp_path / "mem.yaml"
    memory.write_text((ROOT / "examples" / "clusters" / "docker-in-memory.yaml").read_text())
    with pytest.raises(LatticeError, match="in-memory backend"):
        read_inputs([memory])


def test_the_plan_names_every_phase() -> None:
    lines = plan(read_inputs([DOCKER]), parse_bootstrap("local"), keep_bootstrap=False,
                 kubeconfig_out=Path("/tmp/dev.yaml"))
    assert [line.split(":")[0] for line in lines[:7]] == ["1. bootstrap", "2. install", "3. apply", "4. provision",
                                                         "5. pivot", "6. detach", "7. cleanup"]
    assert "1 KubeadmControlPlane" in lines[3] and "3 machines" in lines[3]
    assert lines[-1].endswith("/tmp/dev.yaml")


def test_dry_run_prints_the_plan_and_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["install", "-f", str(DOCKER), "--bootstrap", "local", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("lattice install would create dev:") and "7. cleanup" in out


def test_a_bad_file_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert run(["install", "-f", str(empty), "--dry-run"]) == 1
    assert "ConfigMap is not something lattice install applies" in capsys.readouterr().err
