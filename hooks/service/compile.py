"""The service compiler: one LatticeService (with what it names) -> its children and its status.

``compile_service`` is pure and deterministic: no clock (``lastCompiledAt`` is left to the hook
layer), no I/O, children sorted. Outcomes, first match wins:

- checks or templates fail -> Failed (``CompilationFailed``), every error listed, and
  ``keep_observed``: the running children are left as they are;
- a template needs an object that does not exist yet (an external service) -> Compiling,
  ``keep_observed``, resync 10 s;
- a secret is denied by Cedar -> Failed (``SecretAccessDenied``), or the secrets compiler
  reports errors -> Failed (``InvalidSecretConfig``), resync 30 s; all other children are still
  produced, so revoking access removes only the denied ExternalSecret;
- a declared service dependency does not exist yet -> Compiling (``DependenciesMissing``), all
  children produced, resync 10 s;
- otherwise Ready (``Compiled``).

The mesh compiler's warnings (declarations it could not compile) are appended to the Ready and
Compiling messages. Whenever the mesh was compiled the status also has a ``MeshAgreed``
condition: True (``AllAgreed``), or False (``OneSided``) listing every declaration its peer has
not matched, with ``status.oneSided`` saying what each peer must add: such a declaration carries
no traffic, and the service is otherwise Ready.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from crds import Condition, ConditionStatus, FieldError, KubeObject
from crds.service import LatticeServiceStatus, OneSidedDeclaration, ResolvedDependency, ServicePhase
from hooks.context import SecretAudit, SecretDecision, ServiceContext
from hooks.mesh.compile import resolve_mesh
from hooks.messages import join_capped
from hooks.secrets import compile_secrets
from hooks.service.checks import check_service
from hooks.service.expansion import expand_workload
from hooks.service.files import check_files, plan_files
from hooks.service.provisioning import plan_resources
from hooks.service.volumes import plan_volumes
from hooks.service.workload import build_deployment, build_hpa, build_service, build_service_account

COMPILING_RESYNC_SECONDS = 10.0
DENIED_RESYNC_SECONDS = 30.0

READY = "Ready"
REASON_COMPILED = "Compiled"
REASON_VALIDATION = "ValidationFailed"
REASON_COMPILATION = "CompilationFailed"
REASON_DENIED = "SecretAccessDenied"
REASON_SECRET_CONFIG = "InvalidSecretConfig"
REASON_MISSING = "DependenciesMissing"
MESH_AGREED = "MeshAgreed"
REASON_ALL_AGREED = "AllAgreed"
REASON_ONE_SIDED = "OneSided"


class MeshOutcome(Protocol):
    @property
    def children(self) -> list[KubeObject]: ...
    @property
    def resolved(self) -> list[ResolvedDependency]: ...
    @property
    def missing(self) -> list[str]: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def one_sided(self) -> list[OneSidedDeclaration]: ...


class SecretsOutcome(Protocol):
    @property
    def children(self) -> list[KubeObject]: ...
    @property
    def denied(self) -> list[SecretDecision]: ...
    @property
    def errors(self) -> list[str]: ...
    @property
    def audit(self) -> list[SecretAudit]: ...


@attrs.frozen
class ServiceResult:
    """What one sync answers. ``keep_observed``: leave the running children unchanged; ``audit``:
    what Audit-mode CedarPolicies would change about the secrets (reported, never enforced)."""

    children: list[KubeObject]
    status: LatticeServiceStatus
    resync_after_seconds: float | None = None
    keep_observed: bool = False
    audit: tuple[SecretAudit, ...] = ()


def compile_service(
    ctx: ServiceContext,
    *,
    mesh: Callable[[ServiceContext], MeshOutcome] = resolve_mesh,
    secrets: Callable[[ServiceContext], SecretsOutcome] = compile_secrets,
) -> ServiceResult:
    """Compile ``ctx.service`` (already validated by ``crds.parse``) into its children and status."""
    generation = ctx.service.metadata.generation
    resources = plan_resources(ctx, ctx.provisioners)
    ctx = attrs.evolve(ctx, data_services=tuple(resources.data_services), routes=tuple(resources.routes))
    expansion = expand_workload(ctx, resources.outputs)
    volumes = plan_volumes(ctx)
    errors = [*check_service(ctx), *resources.errors, *expansion.errors, *volumes.errors, *check_files(expansion)]
    if errors:
        return failed_result(errors, generation, reason=REASON_COMPILATION)
    missing = {**expansion.missing, **resources.missing}
    if missing:
        waiting = [f"{dep} (needed by {field})" for dep, field in sorted(missing.items())]
        status = _status(ServicePhase.COMPILING, REASON_MISSING, f"waiting for {'; '.join(waiting)}", generation)
        return ServiceResult([], status, COMPILING_RESYNC_SECONDS, keep_observed=True)

    secret_outcome = secrets(ctx)
    mesh_outcome = mesh(ctx)
    denied = sorted(secret_outcome.denied, key=lambda d: d.resource)
    files = plan_files(ctx, expansion, denied={d.resource for d in denied})
    children: list[KubeObject] = [build_service_account(ctx), build_deployment(ctx, expansion, volumes, files)]
    children += [o for o in (build_service(ctx), build_hpa(ctx)) if o is not None]
    children += volumes.claims + files.objects + secret_outcome.children + mesh_outcome.children
    children += resources.manifests
    children = sorted(children, key=_object_key)
    agreement = _MeshStatus(list(mesh_outcome.resolved), list(mesh_outcome.one_sided))
    audit = tuple(secret_outcome.audit)

    problems = [f"'{d.resource}': {d.reason}" for d in denied]
    if problems or secret_outcome.errors:
        parts = list(secret_outcome.errors) + ([f"secret access denied: {'; '.join(problems)}"] if problems else [])
        reason = REASON_DENIED if problems else REASON_SECRET_CONFIG
        status = _status(ServicePhase.FAILED, reason, "; ".join(parts), generation, agreement)
        return ServiceResult(children, status, DENIED_RESYNC_SECONDS, audit=audit)
    notes = "".join(f"; {w}" for w in [*mesh_outcome.warnings, *resources.notes])
    if agreement.one_sided:
        notes += f"; {_one_sided_count(agreement.one_sided)} (see status.oneSided)"
    if mesh_outcome.missing:
        message = f"waiting for {', '.join(sorted(mesh_outcome.missing))}{notes}"
        status = _status(ServicePhase.COMPILING, REASON_MISSING, message, generation, agreement)
        return ServiceResult(children, status, COMPILING_RESYNC_SECONDS, audit=audit)
    message = f"compiled {len(children)} objects{notes}"
    return ServiceResult(children, _status(ServicePhase.READY, REASON_COMPILED, message, generation, agreement),
                         audit=audit)


def failed_result(
    errors: Sequence[FieldError], generation: int | None, *, reason: str = REASON_VALIDATION
) -> ServiceResult:
    """Failed with every error; the running children are kept (nothing valid to replace them)."""
    message = join_capped(str(e) for e in errors)
    return ServiceResult([], _status(ServicePhase.FAILED, reason, message, generation), keep_observed=True)


@attrs.frozen
class _MeshStatus:
    resolved: list[ResolvedDependency]
    one_sided: list[OneSidedDeclaration]


def _one_sided_count(found: Sequence[OneSidedDeclaration]) -> str:
    return f"{len(found)} one-sided declaration{'s' if len(found) != 1 else ''}"


def mesh_condition(one_sided: Sequence[OneSidedDeclaration], generation: int | None) -> Condition:
    """``MeshAgreed``: True when every declaration is matched by its peer, else False with each one."""
    if not one_sided:
        return Condition(type=MESH_AGREED, status=ConditionStatus.TRUE, reason=REASON_ALL_AGREED,
                         message="every mesh declaration is matched by its peer", observed_generation=generation)
    listed = "; ".join(f"resources.{o.resource}: {o.missing}" for o in one_sided)
    return Condition(type=MESH_AGREED, status=ConditionStatus.FALSE, reason=REASON_ONE_SIDED,
                     message=f"{_one_sided_count(one_sided)}, no traffic flows on them: {listed}",
                     observed_generation=generation)


def _status(
    phase: ServicePhase, reason: str, message: str, generation: int | None, mesh: _MeshStatus | None = None,
) -> LatticeServiceStatus:
    ready = ConditionStatus.TRUE if phase is ServicePhase.READY else ConditionStatus.FALSE
    conditions = [Condition(type=READY, status=ready, reason=reason, message=message, observed_generation=generation)]
    if mesh is not None:
        conditions.append(mesh_condition(mesh.one_sided, generation))
    return LatticeServiceStatus(phase=phase, message=message, conditions=conditions, observed_generation=generation,
                                resolved_dependencies=list(mesh.resolved) if mesh else [],
                                one_sided=list(mesh.one_sided) if mesh else [])


def _object_key(obj: KubeObject) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("namespace") or ""),
            str(meta.get("name")))
