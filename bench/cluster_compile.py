"""Cluster compile time per LatticeCluster example (every provider x bootstrap in examples/clusters).

    .venv/bin/python bench/cluster_compile.py [--quick]

Per example, alternating in rounds, three timings of the same input:
* parse — ``crds.parse`` of the raw LatticeCluster (the baseline every hook pays anyway);
* compile — ``hooks.cluster.compile_cluster`` on the parsed model and its CloudProvider (all
  validation, every object, the template hashes);
* status — ``hooks.cluster.cluster_status`` against an observed, half-provisioned Cluster.

Prints one line per example and ``cluster_compile_ms_p50[<example>]=<median>`` lines, then
``cluster_compile_vs_parse_ratio=<median compile / median parse>`` over all examples and, last,
``cluster_compile_ms_p50=<slowest example's median>``. The hook-server sync throughput and the
100-cluster provisioning time come with the LatticeCluster controller.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

import crds
from crds import CloudProvider, LatticeCluster
from hooks.cluster import AgentBootstrap, ClusterInputs, ObservedCapi, PivotProgress, cluster_status, compile_cluster

ROOT = Path(__file__).resolve().parents[1]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _time(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 rounds of 50 instead of 5 rounds of 400")
    args = ap.parse_args()
    rounds, per_round = (3, 50) if args.quick else (5, 400)

    providers = {p.name: p for p in (crds.parse(d).obj for d in _docs(ROOT / "examples/providers/cloud-providers.yaml"))
                 if isinstance(p, CloudProvider)}
    examples = {p.stem: _docs(p)[0] for p in sorted((ROOT / "examples/clusters").glob("*.yaml"))}
    observed = ObservedCapi(cluster={"status": {"initialization": {"infrastructureProvisioned": True},
                                                "controlPlane": {"readyReplicas": 1}}})
    samples: dict[str, dict[str, list[float]]] = {e: {"parse": [], "compile": [], "status": []} for e in examples}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for name, doc in examples.items():
            model = crds.parse(doc).obj
            assert isinstance(model, LatticeCluster)
            inputs = ClusterInputs(model, providers[model.spec.provider_ref], AgentBootstrap())
            plan = compile_cluster(inputs)
            assert plan.ok, plan.errors
            sizes[name] = len(plan.objects)
            samples[name]["parse"] += _time(lambda doc=doc: crds.parse(doc), per_round)
            samples[name]["compile"] += _time(lambda inputs=inputs: compile_cluster(inputs), per_round)
            samples[name]["status"] += _time(
                lambda m=model, p=plan: cluster_status(m, p, observed, pivot=PivotProgress()), per_round)

    print(f"{len(examples)} examples, {rounds} rounds x {per_round} calls each, medians")
    med = {e: {k: statistics.median(v) * 1e3 for k, v in s.items()} for e, s in samples.items()}
    for e, m in med.items():
        print(f"{e:<18} {sizes[e]:>2} objects  parse {m['parse']:.3f} ms  compile {m['compile']:.3f} ms  "
              f"status {m['status']:.3f} ms")
    for e, m in med.items():
        print(f"cluster_compile_ms_p50[{e}]={m['compile']:.3f}")
    ratio = statistics.median(m["compile"] for m in med.values()) / statistics.median(m["parse"] for m in med.values())
    print(f"cluster_compile_vs_parse_ratio={ratio:.2f}")
    print(f"cluster_compile_ms_p50={max(m['compile'] for m in med.values()):.3f}")


if __name__ == "__main__":
    main()
