"""Field checks: each takes a type-correct value and returns an error message or None.

Messages say what was wrong and the expected form, e.g.
``invalid quantity '1.5m' (expected e.g. '100m', '1', '0.5')``.
"""

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from typing import Any

_CPU = re.compile(r"^(\d+(\.\d+)?|\.\d+|\d+m)$")
_BYTES = re.compile(r"^(\d+(\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_K8S_VERSION = re.compile(r"^v?1\.\d+(\.\d+)?$")
_K8S_RELEASE = re.compile(r"^v?1\.\d+\.\d+$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_MODE = re.compile(r"^[0-7]{3,4}$")
_POOL_ID = re.compile(r"^[a-z][a-z0-9-]*$")
# Score's patterns for resource types and classes (any case), ids (dot-separated DNS labels).
_SCORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]$")


def cpu_quantity(v: str) -> str | None:
    if _CPU.match(v):
        return None
    return f"invalid quantity '{v}' (expected e.g. '100m', '1', '0.5')"


def byte_quantity(v: str) -> str | None:
    if _BYTES.match(v):
        return None
    return f"invalid quantity '{v}' (expected e.g. '128974848', '129M', '123Mi', '1Gi')"


def duration(v: str) -> str | None:
    if _DURATION.match(v):
        return None
    return f"invalid duration '{v}' (expected e.g. '500ms', '30s', '5m', '1h')"


def port(v: int) -> str | None:
    if 1 <= v <= 65535:
        return None
    return f"invalid port {v} (expected 1-65535)"


def int_or_name_port(v: int | str) -> str | None:
    if isinstance(v, int):
        return port(v)
    if _DNS_LABEL.match(v) and len(v) <= 15:
        return None
    return f"invalid port '{v}' (expected a number 1-65535 or a port name like 'http')"


def image(v: str) -> str | None:
    if not v:
        return "image cannot be empty (expected e.g. 'nginx:1.27' or '.')"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in v):
        return f"image '{v}' contains invalid characters (whitespace or control characters)"
    return None


def file_mode(v: str) -> str | None:
    if _MODE.match(v):
        return None
    return f"invalid file mode '{v}' (expected 3-4 octal digits, e.g. '0644' or '600')"


def base64_text(v: str) -> str | None:
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return "invalid base64 content"
    return None


def k8s_version(v: str) -> str | None:
    if _K8S_VERSION.match(v):
        return None
    return f"invalid Kubernetes version '{v}' (expected e.g. '1.32.0' or 'v1.32')"


def k8s_release(v: str) -> str | None:
    if _K8S_RELEASE.match(v):
        return None
    return f"invalid Kubernetes version '{v}' (expected a release like '1.32.0' or 'v1.32.0')"


def label_key(v: str) -> str | None:
    prefix, _, name = v.rpartition("/")
    if _LABEL_NAME.match(name) and len(name) <= 63 and (
        not prefix or (_DNS_SUBDOMAIN.match(prefix) and len(prefix) <= 253)
    ):
        return None
    return f"invalid label key '{v}' (expected [prefix/]name, e.g. 'gpu' or 'example.com/tier')"


def label_value(v: str) -> str | None:
    if v == "" or (_LABEL_NAME.match(v) and len(v) <= 63):
        return None
    return f"invalid label value '{v}' (expected up to 63 letters, digits, '-', '_' or '.')"


def labels(v: dict[str, str]) -> str | None:
    """Label keys and values (errors name the first bad entry)."""
    for k, val in v.items():
        msg = label_key(k) or label_value(val)
        if msg:
            return msg
    return None


def env_name(v: str) -> str | None:
    if _ENV_NAME.match(v):
        return None
    return f"invalid environment variable name '{v}' (expected letters, digits, '_', '-', '.')"


def dns_label(v: str) -> str | None:
    if _DNS_LABEL.match(v) and len(v) <= 63:
        return None
    return f"invalid name '{v}' (expected a DNS label: lowercase letters, digits and '-', max 63)"


def dns_subdomain(v: str) -> str | None:
    if _DNS_SUBDOMAIN.match(v) and len(v) <= 253:
        return None
    return f"invalid name '{v}' (expected lowercase letters, digits, '-' and '.')"


def hostname(v: str) -> str | None:
    if _HOSTNAME.match(v) and len(v) <= 253:
        return None
    return f"invalid hostname '{v}' (expected e.g. 'api.example.com' or '*.example.com')"


def http_path(v: str) -> str | None:
    if not v.startswith("/"):
        return f"invalid path '{v}' (expected an absolute path starting with '/')"
    # Gateway API refuses paths that normalise differently than they read.
    bad = ("//", "/./", "/../", "%2f", "%2F", "#")
    if any(b in v for b in bad) or v.endswith(("/.", "/..")):
        return f"invalid path '{v}' (no '//', '/./', '/../', '%2f', '#' or trailing '/.' or '/..')"
    return None


def absolute_path(v: str) -> str | None:
    if v.startswith("/"):
        return None
    return f"invalid mount path '{v}' (expected an absolute path like '/etc/app/config.yaml')"


def pool_id(v: str) -> str | None:
    if _POOL_ID.match(v) and not v.endswith("-"):
        return None
    return (
        f"invalid worker pool id '{v}' (expected to start with a lowercase letter, "
        "contain only [a-z0-9-] and not end with '-')"
    )


BUILTIN_RESOURCE_TYPES = ("service", "external-service", "volume", "secret")


def resource_type(v: str) -> str | None:
    if v in BUILTIN_RESOURCE_TYPES or _SCORE_NAME.match(v):
        return None
    return (f"invalid resource type '{v}' (expected 2-63 letters, digits and '-', starting and ending "
            "with a letter or digit, e.g. 'postgres')")


def resource_class(v: str) -> str | None:
    if _SCORE_NAME.match(v):
        return None
    return (f"invalid resource class '{v}' (expected 2-63 letters, digits and '-', starting and ending "
            "with a letter or digit, e.g. 'production')")


def cidr(v: str) -> str | None:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return f"invalid CIDR '{v}' (expected e.g. '10.0.0.0/24')"
    return None


def ip_address(v: str) -> str | None:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return f"invalid IP address '{v}'"
    return None


def url(v: str) -> str | None:
    if re.match(r"^https?://[^\s/]+", v):
        return None
    return f"invalid URL '{v}' (expected e.g. 'https://vault.example.com:8200')"


def oauth_scope(v: str) -> str | None:
    # RFC 6749 section 3.3: printable ASCII without space, '"' and '\\'.
    if v and all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in v):
        return None
    return f"invalid OAuth scope {v!r} (expected one word of printable ASCII, e.g. 'groups')"


def pem_certificate(v: str) -> str | None:
    if "-----BEGIN CERTIFICATE-----" in v:
        return None
    return "invalid CA bundle (expected PEM text with '-----BEGIN CERTIFICATE-----')"


def each_key(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """Apply a check to every key of a mapping (errors name the first bad key)."""

    def run(v: Any) -> str | None:
        for k in v:
            msg = check(k)
            if msg:
                return msg
        return None

    return run


def each(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """Apply a check to every item of a list."""

    def run(v: Any) -> str | None:
        for item in v:
            msg = check(item)
            if msg:
                return msg
        return None

    return run
