"""``lattice get mesh`` output: a table (with the YAML each missing side must add), Graphviz dot,
Mermaid, or JSON. Formatting only; the graph is ``hooks.mesh.view``'s."""

from __future__ import annotations

import json
from typing import Any

from hooks.context import Key
from hooks.mesh.view import EdgeStatus, MeshEdge, MeshGraph


def show(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def _note(e: MeshEdge) -> str:
    parts = []
    if e.wildcard:
        parts.append(f"accepted by wildcard resources.{e.callee_resource}")
    if e.cross_namespace:
        parts.append("cross-namespace")
    if e.detail:
        parts.append(e.detail)
    if e.fix and e.fix_for is not None:
        verb = "is created with" if e.status is EdgeStatus.MISSING else "adds"
        parts.append(f"fix: {show(e.fix_for)} {verb} the YAML below")
    return "; ".join(parts)


def table(graph: MeshGraph) -> str:
    rows = [("FROM", "TO", "KIND", "STATUS", "PORTS", "NOTE")]
    for e in graph.edges:
        kind = "external" if e.external else "service"
        rows.append((show(e.caller), show(e.callee), kind, e.status.value, ", ".join(e.ports) or "-", _note(e)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "   " + r[5] for r in rows]
    out = [line.rstrip() for line in lines] if graph.edges else ["No service declarations found."]
    for w in graph.wildcards:
        scope = f"namespace {w.namespace}" if w.namespace else "every namespace"
        out.append(f"wildcard: {show(w.service)} accepts every caller of {scope} that declares it "
                   f"(resources.{w.resource})")
    counts = graph.counts()
    out.append(f"{len(graph.edges)} edge(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for e in graph.edges:
        if e.fix and e.fix_for is not None:
            out.append("")
            what = "does not exist; create it with" if e.status is EdgeStatus.MISSING else "must add"
            out.append(f"# {show(e.fix_for)} {what}, under spec ({e.status.value} {show(e.caller)} -> "
                       f"{show(e.callee)}):")
            out += [f"  {line}" for line in e.fix.rstrip("\n").split("\n")]
    return "\n".join(out) + "\n"


_DOT_STYLE = {
    EdgeStatus.AGREED: 'color="black"',
    EdgeStatus.ONE_SIDED: 'color="red", style="dashed"',
    EdgeStatus.MISSING: 'color="gray50", style="dotted"',
    EdgeStatus.BLOCKED: 'color="red", style="bold", arrowhead="tee"',
}


def _q(text: str) -> str:
    return json.dumps(text)  # a valid dot and Mermaid quoted string


def _edge_label(e: MeshEdge) -> str:
    if e.status is EdgeStatus.AGREED:
        return "*" if e.wildcard else ""
    if e.status is EdgeStatus.ONE_SIDED:
        return f"one-sided: {e.missing_side} missing"
    return e.status.value


def _nodes(graph: MeshGraph) -> tuple[dict[Key, str], set[Key]]:
    """Every node (services, externals, peers that do not exist) and which of them are externals."""
    externals = set(graph.externals) | {e.callee for e in graph.edges if e.external}
    keys = set(graph.services) | externals
    for e in graph.edges:
        keys |= {e.caller, e.callee}
    return {k: f"n{i}" for i, k in enumerate(sorted(keys))}, externals


def dot(graph: MeshGraph) -> str:
    ids, externals = _nodes(graph)
    present = set(graph.services) | set(graph.externals)
    wild = {w.service: w for w in graph.wildcards}
    out = ["digraph mesh {", "  rankdir=LR;", '  node [shape="box", style="rounded"];']
    for i, ns in enumerate(sorted({k[0] for k in ids})):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f"    label={_q(ns)};")
        for k in sorted(k for k in ids if k[0] == ns):
            label = k[1] + (f"\\naccepts * from {wild[k].namespace or 'any namespace'}" if k in wild else "")
            attrs = [f'label="{label}"']
            if k in externals:
                attrs.append('shape="component"')
            if k not in present:
                attrs.append('style="dotted"')
                attrs.append('fontcolor="gray50"')
            out.append(f"    {ids[k]} [{', '.join(attrs)}];")
        out.append("  }")
    for e in graph.edges:
        label = _edge_label(e)
        style = _DOT_STYLE[e.status] + (f", label={_q(label)}" if label else "")
        out.append(f"  {ids[e.caller]} -> {ids[e.callee]} [{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


_MERMAID_ARROW = {EdgeStatus.AGREED: "-->", EdgeStatus.ONE_SIDED: "-.->", EdgeStatus.MISSING: "-.->",
                  EdgeStatus.BLOCKED: "--x"}


def _m(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def mermaid(graph: MeshGraph) -> str:
    ids, externals = _nodes(graph)
    present = set(graph.services) | set(graph.externals)
    wild = {w.service: w for w in graph.wildcards}
    out = ["flowchart LR"]
    for ns in sorted({k[0] for k in ids}):
        out.append(f"  subgraph {_ns_id(ns)}[{_m(ns)}]")
        for k in sorted(k for k in ids if k[0] == ns):
            label = k[1] + (f"<br/>accepts * from {wild[k].namespace or 'any namespace'}" if k in wild else "")
            shape = f"[/{_m(label)}/]" if k in externals else f"({_m(label)})"
            out.append(f"    {ids[k]}{shape}")
        out.append("  end")
    for e in graph.edges:
        label = _edge_label(e)
        arrow = _MERMAID_ARROW[e.status] + (f"|{_m(label)}|" if label else "")
        out.append(f"  {ids[e.caller]} {arrow} {ids[e.callee]}")
    missing = sorted(ids[k] for k in ids if k not in present)
    if missing:
        out.append("  classDef absent stroke-dasharray: 4 4,color:#888")
        out.append(f"  class {','.join(missing)} absent")
    return "\n".join(out) + "\n"


def _ns_id(ns: str) -> str:
    return "ns_" + "".join(c if c.isalnum() else "_" for c in ns)


def as_json(graph: MeshGraph) -> str:
    def edge(e: MeshEdge) -> dict[str, Any]:
        return {
            "from": show(e.caller), "to": show(e.callee), "kind": e.callee_kind, "status": e.status.value,
            "callerResource": e.caller_resource, "calleeResource": e.callee_resource, "wildcard": e.wildcard,
            "crossNamespace": e.cross_namespace, "ports": list(e.ports), "missingSide": e.missing_side,
            "detail": e.detail or None, "fix": e.fix or None, "fixFor": show(e.fix_for) if e.fix_for else None,
        }

    body = {
        "services": [show(k) for k in graph.services],
        "externalServices": [show(k) for k in graph.externals],
        "edges": [edge(e) for e in graph.edges],
        "wildcards": [{"service": show(w.service), "resource": w.resource, "namespace": w.namespace}
                      for w in graph.wildcards],
        "summary": graph.counts(),
    }
    return json.dumps(body, indent=2) + "\n"
