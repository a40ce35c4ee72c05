"""Rules the compiler needs beyond the CRD validation: names that become object names, reserved
names, and combinations Kubernetes would reject. Every problem is returned with its field path.
"""

from __future__ import annotations

from crds import FieldError
from crds.service import ContainerSpec
from hooks import names
from hooks.context import ServiceContext
from hooks.service.expansion import workload_containers

# Resource names end up in pod volume names ("vol-<name>", a DNS label of at most 63).
MAX_RESOURCE_NAME = 59
# Volume ids end up in the label key "lattice.dev/volume-owner-<id>" (name part at most 63).
MAX_VOLUME_ID = 63 - len("volume-owner-")


def check_service(ctx: ServiceContext) -> list[FieldError]:
    errors = _check_name(ctx)
    errors += _check_resources(ctx, generated_names=not errors)
    for field, _, c in workload_containers(ctx):
        errors += _check_container(field, c)
    return errors


def _check_name(ctx: ServiceContext) -> list[FieldError]:
    name = ctx.name
    if not name:
        return [FieldError("metadata.name", "required")]
    if not names.is_dns_label(name):
        return [FieldError("metadata.name", f"'{name}' must be a DNS label (lowercase letters, digits and "
                                            "'-', at most 63) because it names the Deployment and labels the pods")]
    if ctx.service.spec.service is not None and not name[0].isalpha():
        return [FieldError("metadata.name", f"'{name}' must start with a letter because it names a Service")]
    return []


def _check_resources(ctx: ServiceContext, *, generated_names: bool) -> list[FieldError]:
    """Resource names; with ``generated_names`` (the service name is valid) also the names derived."""
    errors: list[FieldError] = []
    resources = ctx.service.spec.resources
    for r in sorted(resources):
        res = resources[r]
        if res.type not in ("volume", "secret"):
            continue
        path = f"spec.resources.{r}"
        if not names.is_dns_label(r) or len(r) > MAX_RESOURCE_NAME:
            errors.append(FieldError(path, f"invalid name '{r}': a {res.type} resource name becomes part of object "
                                           f"names (expected a DNS label of at most {MAX_RESOURCE_NAME} characters)"))
        if res.type == "secret" and r == names.RESERVED_SECRET_RESOURCE:
            errors.append(FieldError(path, f"the name '{r}' is reserved: the Secret "
                                           f"'{names.files_secret_name(ctx.name)}' holds the container files"))
        if res.type == "volume" and res.id and (not names.is_dns_label(res.id) or len(res.id) > MAX_VOLUME_ID):
            errors.append(FieldError(f"{path}.id", f"invalid volume id '{res.id}' (expected a DNS label of at most "
                                                   f"{MAX_VOLUME_ID} characters)"))
            continue
        generated = names.secret_name(ctx.name, r) if res.type == "secret" else names.pvc_name(ctx.name, r, res.id)
        if generated_names and names.is_dns_label(r) and not names.is_dns_label(generated):
            errors.append(FieldError(path, f"generated name '{generated}' is longer than 63 characters (object "
                                           "names are also label values); shorten the service or resource name"))
    if generated_names and _has_files(ctx) and not names.is_dns_label(names.files_configmap_name(ctx.name)):
        errors.append(FieldError("metadata.name", f"generated name '{names.files_configmap_name(ctx.name)}' is "
                                                  "longer than 63 characters; shorten the service name"))
    return errors


def _has_files(ctx: ServiceContext) -> bool:
    return any(c.files for _, _, c in workload_containers(ctx))


def _check_container(field: str, c: ContainerSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    if c.image == ".":
        errors.append(FieldError(f"{field}.image", "image '.' stands for an image supplied at deploy time; "
                                                   "replace it with a real image reference before applying"))
    for var in sorted(c.variables):
        if var.startswith(names.SECRET_ENV_PREFIX):
            errors.append(FieldError(f"{field}.variables.{var}",
                                     f"the prefix '{names.SECRET_ENV_PREFIX}' is reserved for Lattice"))
    for path in sorted(set(c.files) & set(c.volumes)):
        errors.append(FieldError(f"{field}.files.{path}", "the path is also a volume mount path"))
    sc = c.security
    if sc is not None and sc.allow_privilege_escalation is False:
        if sc.privileged:
            errors.append(FieldError(f"{field}.security.allowPrivilegeEscalation",
                                     "cannot be false when privileged is true"))
        if "CAP_SYS_ADMIN" in sc.capabilities:
            errors.append(FieldError(f"{field}.security.allowPrivilegeEscalation",
                                     "cannot be false when adding CAP_SYS_ADMIN"))
    return errors
