"""``lattice policy check``: what Lattice's policies decide, and why, before they bite. Offline on
files (``-f``) or live (kubeconfig, context).

One question per call:

* ``--from SVC --to SVC [--port P]`` — would traffic flow? (``hooks.mesh.check``)
* ``--service SVC --secret PATH`` — may this service read this secret? (``lattice_cedar``)
* ``--user U [--group G ...] --cluster C`` — may this person reach this cluster through the proxy?
  (the same ``AccessCluster`` decision the cell's proxy makes)
* ``--policy FILE`` — what would change if this CedarPolicy were applied: the decisions that flip
  across every service's secrets and every (principal, cluster) pair in scope (``what_if``).

Exit code as ``kubectl auth can-i``: 0 when allowed, 1 when denied; ``--policy`` exits 0. Each
answer says why: the statements that decided (id, CedarPolicy, line, text) or "no permit
matched", the mesh declarations and the generated rules, and what Audit-mode policies would do.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TextIO

import attrs
import typer

from cli.errors import LatticeError
from cli.inventory import Inventory, Source, inventory_of, read, service_key
from cli.mesh_formats import show
from cli.render import cluster_identity, files_of, read_documents
from hooks.context import ClusterIdentity, SecretRequest
from hooks.mesh.check import FlowCheck, check_flow
from hooks.secrets import secret_sources
from lattice_cedar import AuditedStore, AuditFinding, Decision, Explanation, explain, validate_policy, what_if
from lattice_cedar.explain import describe
from lattice_cedar.schema import ACCESS_CLUSTER, ACCESS_SECRET
from lattice_cedar.store import ClusterDirectory
from lattice_cedar.what_if import Flip, WhatIf, principal_of

policy_app = typer.Typer(name="policy", help="Check what Lattice's policies decide, and why.", no_args_is_help=True,
                         rich_markup_mode=None)


class Output(enum.StrEnum):
    text = "text"
    json = "json"


@attrs.frozen
class Question:
    source: Source
    namespace: str | None = None
    caller: str | None = None
    callee: str | None = None
    port: int | None = None
    service: str | None = None
    secret: str | None = None
    provider: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    cluster: str | None = None
    policy: Path | None = None
    cluster_name: str | None = None


def run(q: Question, output: Output = Output.text, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    modes = [name for name, given in (
        ("--from/--to", q.caller or q.callee), ("--service/--secret", q.service or q.secret),
        ("--policy", q.policy)) if given]
    if not modes and (q.user or q.cluster):
        modes = ["--user/--cluster"]
    if len(modes) != 1:
        raise LatticeError("ask one question: --from/--to, --service/--secret, --user/--cluster or --policy",
                           exit_code=2)
    inventory = read(q.source, err, q.namespace)
    if modes[0] == "--from/--to":
        return _flow(q, inventory, output, out)
    if modes[0] == "--service/--secret":
        return _secret(q, inventory, output, out, err)
    if modes[0] == "--user/--cluster":
        return _cluster(q, inventory, output, out, err)
    return _flips(q, inventory, output, out, err)


# ---- --from/--to --------------------------------------------------------------------------------


def _flow(q: Question, inv: Inventory, output: Output, out: TextIO) -> int:
    if not q.caller or not q.callee:
        raise LatticeError("--from and --to go together", exit_code=2)
    caller, callee = service_key(q.caller, q.namespace or inv.default_namespace), \
        service_key(q.callee, q.namespace or inv.default_namespace)
    cluster = _cluster_identity(q, inv)
    result = check_flow(inv.services, inv.externals, caller, callee, q.port, cluster)
    if output is Output.json:
        out.write(json.dumps(_flow_json(result), indent=2) + "\n")
    else:
        out.write(_flow_text(result))
    return 0 if result.allowed else 1


def _flow_text(r: FlowCheck) -> str:
    port = f" port {r.port}" if r.port is not None else ""
    lines = [f"{show(r.caller)} -> {show(r.callee)}{port}: {'allowed' if r.allowed else 'denied'}"]
    lines += [f"  {reason}" for reason in r.reasons]
    if r.objects:
        lines.append("objects:")
        lines += [f"  {o}" for o in r.objects]
    if r.fix and r.fix_for is not None:
        lines.append(f"# {show(r.fix_for)} must add, under spec:")
        lines += [f"  {line}" for line in r.fix.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def _flow_json(r: FlowCheck) -> dict[str, Any]:
    return {"from": show(r.caller), "to": show(r.callee), "port": r.port, "allowed": r.allowed,
            "reasons": list(r.reasons), "objects": list(r.objects), "fix": r.fix or None,
            "fixFor": show(r.fix_for) if r.fix_for else None}


def _cluster_identity(q: Question, inv: Inventory) -> ClusterIdentity:
    docs = [{"kind": "LatticeCluster", "metadata": {"name": c.name},
             "spec": {"provider": {"config": {c.spec.provider.config.provider_type: {}}}}}
            for c in inv.clusters.values()]
    return cluster_identity(q.cluster_name, docs)


# ---- --service/--secret -------------------------------------------------------------------------


def _secret_request(q: Question, inv: Inventory, err: TextIO) -> tuple[SecretRequest, str]:
    if not q.service or not q.secret:
        raise LatticeError("--service and --secret go together", exit_code=2)
    key = service_key(q.service, q.namespace or inv.default_namespace)
    svc = inv.services.get(key)
    sources = secret_sources(svc)[0] if svc is not None else []
    provider, path = q.provider, q.secret
    if provider is None and ":" in q.secret and not any(s.path == q.secret for s in sources):
        provider, path = q.secret.split(":", 1)
    match = [s for s in sources if s.resource == q.secret or (s.path == path and provider in (None, s.provider))]
    if match:
        s = match[0]
        return SecretRequest(s.resource, key[0], key[1], s.provider, s.path), f"declared as resources.{s.resource}"
    if provider is None:
        raise LatticeError(f"{show(key)} declares no secret {q.secret!r}: give its provider "
                           "(--provider NAME or --secret PROVIDER:PATH)", exit_code=2)
    if svc is None:
        print(f"warning: no LatticeService {show(key)}; judged by its name", file=err)
    note = f"not declared by {show(key)}: a service only gets the secrets it declares"
    return SecretRequest(q.secret, key[0], key[1], provider, path), note


def _secret(q: Question, inv: Inventory, output: Output, out: TextIO, err: TextIO) -> int:
    request, note = _secret_request(q, inv, err)
    audited = AuditedStore.from_policies(inv.policies)
    [decision] = audited.enforced.decide_secrets([request])
    why = explain(audited.enforced, decision, audited.enforced.count(ACCESS_SECRET, request.namespace))
    audit = audited.audit_secrets([request], [decision])
    subject = f"{request.namespace}/{request.service}"
    resource = f"{request.provider}:{request.path}"
    return _answer(f"{subject} reads secret {resource}", why, audit, output, out, [note])


# ---- --user/--cluster ---------------------------------------------------------------------------


def _cluster(q: Question, inv: Inventory, output: Output, out: TextIO, err: TextIO) -> int:
    if not q.user or not q.cluster:
        raise LatticeError("--user and --cluster go together (--group is optional and repeatable)", exit_code=2)
    known = inv.clusters.get(q.cluster)
    if known is None:
        print(f"warning: no LatticeCluster {q.cluster}: judged with no labels "
              "(region unknown, tier standard)", file=err)
    labels = dict(known.metadata.labels) if known is not None else {}
    audited = AuditedStore.from_policies(inv.policies)
    decision = audited.enforced.authorize_cluster(q.user, q.groups, q.cluster, labels)
    why = explain(audited.enforced, decision, audited.enforced.count(ACCESS_CLUSTER))
    audit = audited.audit_cluster(q.user, q.groups, q.cluster, labels, decision)
    groups = f" (groups {', '.join(q.groups)})" if q.groups else ""
    return _answer(f"user {q.user}{groups} reaches cluster {q.cluster}", why, audit, output, out)


def _answer(question: str, why: Explanation, audit: Sequence[AuditFinding], output: Output, out: TextIO,
            notes: Sequence[str] = ()) -> int:
    if output is Output.json:
        body = {"question": question, "notes": list(notes), "allowed": why.allowed,
                "reason": why.decision.reason.value if why.decision.reason else None,
                "summary": why.summary,
                "statements": [{"id": s.id, "effect": s.effect, "policy": s.source, "line": s.line, "text": s.text}
                               for s in why.statements],
                "errors": list(why.errors),
                "audit": [{"policy": f.policy, "would": f.would, "statements": list(f.audited.policies)}
                          for f in audit]}
        out.write(json.dumps(body, indent=2) + "\n")
        return 0 if why.allowed else 1
    lines = [f"{question}: {'allowed' if why.allowed else 'denied'}", f"  {why.summary}"]
    lines += [f"  note: {n}" for n in notes]
    for s in why.statements:
        lines.append(f"  {describe(s)}:")
        lines += [f"    {line}" for line in s.text.strip().split("\n")]
    lines += [f"  error: {e}" for e in why.errors]
    for f in audit:
        by = f" (by {', '.join(f.audited.policies)})" if f.audited.policies else ""
        lines.append(f"  audit: CedarPolicy {f.policy} (Audit mode) would {f.would} it{by}; not enforced")
    out.write("\n".join(lines) + "\n")
    return 0 if why.allowed else 1


# ---- --policy -----------------------------------------------------------------------------------


def _flips(q: Question, inv: Inventory, output: Output, out: TextIO, err: TextIO) -> int:
    assert q.policy is not None
    docs, broken = read_documents(files_of([q.policy]), err)
    changes = inventory_of(docs, err).policies
    if broken or len(changes) != 1:
        raise LatticeError(f"{q.policy}: expected exactly one valid CedarPolicy, found {len(changes)}")
    change = changes[0]
    status = validate_policy(change)
    for e in status.validation_errors:
        print(f"warning: {q.policy}: statement {e.statement} (line {e.line}): {e.message}", file=err)
    if status.validation_errors:
        print(f"warning: {q.policy} has errors: its permits would not be in force, its valid forbids would",
              file=err)
    scope = {q.namespace} if q.namespace else None
    secrets = [SecretRequest(s.resource, key[0], key[1], s.provider, s.path)
               for key, svc in sorted(inv.services.items()) if scope is None or key[0] in scope
               for s in secret_sources(svc)[0]]
    labels = {name: dict(c.metadata.labels) for name, c in sorted(inv.clusters.items())}
    if q.cluster and q.cluster not in labels:
        labels[q.cluster] = {}
    directory = ClusterDirectory.from_labels(labels)
    extra = [principal_of(q.user, q.groups)] if q.user else []
    result = what_if(inv.policies, change, secrets, extra, directory)
    if output is Output.json:
        out.write(json.dumps(_what_if_json(result, len(secrets), len(labels)), indent=2) + "\n")
    else:
        out.write(_what_if_text(result, len(secrets), len(labels)))
    return 0


def _decided_by(d: Decision) -> str:
    return ", ".join(d.policies) if d.policies else "no permit matched"


def _flip_rows(flips: Sequence[Flip]) -> list[str]:
    rows = [("ACTION", "PRINCIPAL", "RESOURCE", "BEFORE", "AFTER", "DECIDED BY")]
    for f in flips:
        resource = f"{f.resource} ({f.detail})" if f.detail else f.resource
        rows.append((f.action, f.principal, resource, _word(f.before), _word(f.after), _decided_by(f.after)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return ["   ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "   " + r[5] for r in rows]


def _word(d: Decision) -> str:
    return "allow" if d.allowed else "deny"


def _what_if_text(r: WhatIf, secrets: int, clusters: int) -> str:
    scope = f"{secrets} secret request(s), {clusters} cluster(s)"
    lines = [f"{r.change} ({r.mode.value}): {len(r.flips)} decision(s) flip ({scope} in scope)"]
    if r.flips:
        lines += _flip_rows(r.flips)
    if r.mode.value == "Audit":
        lines.append(f"Audit mode changes no decision; enforced, it would flip {len(r.audit)}:")
        if r.audit:
            lines += _flip_rows(r.audit)
    return "\n".join(lines) + "\n"


def _what_if_json(r: WhatIf, secrets: int, clusters: int) -> dict[str, Any]:
    def flip(f: Flip) -> dict[str, Any]:
        return {"action": f.action, "principal": f.principal, "resource": f.resource, "detail": f.detail or None,
                "before": _word(f.before), "after": _word(f.after), "decidedBy": list(f.after.policies)}

    return {"change": r.change, "mode": r.mode.value, "flips": [flip(f) for f in r.flips],
            "audit": [flip(f) for f in r.audit], "scope": {"secretRequests": secrets, "clusters": clusters},
            "evaluated": r.evaluated}


# ---- the command --------------------------------------------------------------------------------


@policy_app.command("check", short_help="Would this be allowed, and why? Or: what would this policy change?")
def check(
    caller: Annotated[str | None, typer.Option("--from", metavar="SVC", help="Caller: [NAMESPACE/]NAME.")] = None,
    callee: Annotated[str | None, typer.Option(
        "--to", metavar="SVC", help="Callee: [NAMESPACE/]NAME of a LatticeService or LatticeExternalService.")] = None,
    port: Annotated[int | None, typer.Option("--port", metavar="PORT", help="Callee port (Service or container).")
                    ] = None,
    service: Annotated[str | None, typer.Option("--service", metavar="SVC", help="Service reading a secret.")
                       ] = None,
    secret: Annotated[str | None, typer.Option(
        "--secret", metavar="PATH",
        help="The secret: the service's resource key, its path (id), or PROVIDER:PATH.")] = None,
    provider: Annotated[str | None, typer.Option(
        "--provider", metavar="NAME", help="SecretsProvider of a secret the service does not declare.")] = None,
    user: Annotated[str | None, typer.Option("--user", metavar="USER", help="User reaching a cluster.")] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", metavar="GROUP", help="A group of --user; repeatable.")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", metavar="NAME", help="Cluster to reach.")] = None,
    policy_file: Annotated[Path | None, typer.Option(
        "--policy", metavar="FILE",
        help="A CedarPolicy to try: list every decision that would flip if it were applied.")] = None,
    filename: Annotated[list[Path] | None, typer.Option(
        "-f", "--filename", metavar="PATH",
        help="Judge these files or folders (recursively) instead of a cluster; repeatable.")] = None,
    namespace: Annotated[str | None, typer.Option(
        "-n", "--namespace", metavar="NS",
        help="Namespace of names given without one; with --policy, only this namespace's services.")] = None,
    output: Annotated[Output, typer.Option("-o", "--output", metavar="FORMAT", help="text (default) or json.")
                      ] = Output.text,
    kubeconfig: Annotated[str | None, typer.Option(
        "--kubeconfig", metavar="PATH", help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")] = None,
    context: Annotated[str | None, typer.Option("--context", metavar="NAME", help="Kubeconfig context.")] = None,
    cluster_name: Annotated[str | None, typer.Option(
        "--cluster-name", metavar="NAME", help="Cluster the mesh identities belong to (trust domain).")] = None,
) -> None:
    """Answer one question with the decision and why: --from/--to [--port], --service/--secret,
    --user [--group ...]/--cluster, or --policy FILE (the decisions it would flip).
    Exit code 0 when allowed, 1 when denied (--policy: 0)."""
    q = Question(Source(tuple(filename or ()), kubeconfig, context), namespace, caller, callee, port, service,
                 secret, provider, user, tuple(group or ()), cluster, policy_file, cluster_name)
    code = run(q, output)
    if code:
        raise typer.Exit(code)


__all__ = ["Output", "Question", "check", "policy_app", "run"]

