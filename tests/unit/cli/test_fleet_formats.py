"""cli.fleet_formats: tables, the detail view, the tree and the data forms, exactly."""

import json

import yaml

from cli import fleet_formats as fmt
from cli.fleet import assemble
from tests.unit.cli.test_fleet import NOW, lc, lease, view


def fleet():  # type: ignore[no-untyped-def]
    status = {"readyControlPlane": 3, "readyWorkers": 2, "provider": "docker", "endpoint": "https://prod:6443",
              "pivotComplete": True, "bootstrapComplete": True,
              "workerPools": {"general": {"desiredReplicas": 2, "readyReplicas": 2},
                              "gpu": {"desiredReplicas": 2, "readyReplicas": 0, "autoscalingEnabled": True,
                                      "message": "waiting for its MachineDeployment"}},
              "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "cluster is ready"}]}
    return assemble([
        view("mgmt", [lc("mgmt", parent=True), lc("prod", parent=True, **status), lc("edge", "Provisioning")],
             [lease("prod", "mgmt"), lease("edge", "mgmt", connected=False)], me="mgmt"),
        view("prod", [lc("prod", parent=True, **status), lc("us-east"), lc("us-west")],
             [lease("us-east", "prod"), lease("us-west", "prod")], me="prod"),
    ], NOW)


def test_human_durations_as_kubectl_prints_them() -> None:
    cases = {5: "5s", 119: "119s", 125: "2m5s", 600: "10m", 3 * 3600 + 60: "3h1m", 20 * 3600: "20h",
             3 * 86400 + 4 * 3600: "3d4h", 45 * 86400: "45d", 3 * 365 * 86400 + 86400: "3y1d", -4: "0s"}
    assert {k: fmt.human_duration(k) for k in cases} == cases
    assert fmt.human_duration(None) == "-"


def test_clusters_table() -> None:
    assert fmt.clusters_table(fleet(), NOW) == (
        "NAME     PHASE         PROVIDER  K8S     CP   WORKERS  ROLE    AGENT         HEARTBEAT  AGE\n"
        "mgmt     Ready         docker    1.32.0  0/3  0/2      parent  -             -          22h\n"
        "edge     Provisioning  docker    1.32.0  0/3  0/2      leaf    Disconnected  5s         22h\n"
        "prod     Ready         docker    1.32.0  3/3  2/4      parent  Connected     5s         22h\n"
        "us-east  Ready         docker    1.32.0  0/3  0/2      leaf    Connected     5s         22h\n"
        "us-west  Ready         docker    1.32.0  0/3  0/2      leaf    Connected     5s         22h\n")
    wide = fmt.clusters_table(fleet(), NOW, wide=True).splitlines()
    assert wide[0].split() == [*fmt.COLUMNS, *fmt.WIDE]
    assert wide[3].split()[-5:] == ["1", "mgmt", "us-east,us-west", "0.1.0", "prod"]
    assert fmt.clusters_table(assemble([], NOW), NOW) == "No clusters found.\n"


def test_cluster_detail() -> None:
    assert fmt.cluster_detail(fleet(), "prod", NOW) == """\
Name:            prod
Phase:           Ready
Provider:        docker
K8s Version:     1.32.0
Role:            parent
Control Plane:   3/3
Workers:         2/4
Endpoint:        https://prod:6443
Pivot:           complete
Bootstrap:       complete
Age:             22h
Context:         prod
Parent:          mgmt
Depth:           1
Children:        us-east, us-west
Agent:           Connected since 100s ago
Last Heartbeat:  5s ago
Agent Version:   0.1.0
Reported K8s:    v1.32.0
Protocol:        2
Cell:            mgmt

Worker Pools:
  general  2/2
  gpu      0/2 (autoscaling)
           waiting for its MachineDeployment

Conditions:
  TYPE   STATUS  REASON  MESSAGE
  Ready  True    Ready   cluster is ready
"""
    edge = fmt.cluster_detail(fleet(), "edge", NOW)
    assert "Context:         mgmt (the parent's copy)\n" in edge and "Agent:           Disconnected\n" in edge


def test_hierarchy_tree() -> None:
    assert fmt.hierarchy_tree(fleet()) == """\
Cluster Hierarchy:

mgmt  [Ready] (parent)
├── edge  [Provisioning] (disconnected)
└── prod  [Ready] (parent)
    ├── us-east  [Ready]
    └── us-west  [Ready]
"""


def test_data_forms() -> None:
    data = fmt.clusters_data(fleet())
    assert [d["name"] for d in data] == ["mgmt", "edge", "prod", "us-east", "us-west"]
    prod = data[2]
    assert prod["controlPlane"] == {"ready": 3, "total": 3} and prod["children"] == ["us-east", "us-west"]
    assert prod["agent"]["connected"] is True and prod["agent"]["lastHeartbeat"] == "2023-11-14T22:13:15Z"
    assert json.loads(fmt.dump(data, "json")) == data == yaml.safe_load(fmt.dump(data, "yaml"))
    tree = fmt.hierarchy_data(fleet())
    assert tree[0]["name"] == "mgmt" and [c["name"] for c in tree[0]["children"]] == ["edge", "prod"]
    assert tree[0]["children"][0]["connection"] == "Disconnected"


def test_service_rows() -> None:
    svc = {"metadata": {"namespace": "default", "name": "api", "creationTimestamp": "2023-11-14T22:00:00Z"},
           "spec": {"resources": {"web": {"type": "service", "direction": "inbound"},
                                  "db": {"type": "service"},
                                  "both": {"type": "service", "direction": "both"},
                                  "stripe": {"type": "external-service"},
                                  "data": {"type": "volume"}}},
           "status": {"phase": "Ready"}}
    pending = {"metadata": {"namespace": "a", "name": "b"}, "spec": {}}
    assert fmt.service_rows([svc, pending], NOW) == [["a", "b", "Pending", "0", "0", "-"],
                                                      ["default", "api", "Ready", "2", "3", "13m"]]
