"""What a Lattice object may contain: every limit in one place.

The models use these on their fields (``field(max_length=..., max_items=...)``), so each limit is
in the CRD schema where OpenAPI can say it (``maxLength``, ``maxItems``, ``maxProperties``: the
API server refuses an oversized object before any hook sees it), in the field reference
(docs/crds.md), and checked by ``crds.parse`` before anything compiles. What a schema cannot
say — the size of a whole spec, the number of ``${...}`` references — ``crds.parse`` checks too.

Why these numbers: a spec is bounded by the API server's own object limit (etcd's 1.5 MiB); the
counts are well above what real workloads declare (the Score corpus in tests/score/corpus stays
far below each); the lengths follow Kubernetes where it has one (DNS names, label values) and
otherwise leave room for real configuration (an env value of 32 KiB, a file of 256 KiB) while
keeping the largest allowed LatticeService compiling in well under a second
(bench/hook_worst_case.py, docs/benchmarks.md).
"""

from __future__ import annotations

MAX_SPEC_BYTES = 1024 * 1024  # a whole spec, as JSON (every kind)
MAX_NESTING = 64  # levels of nesting inside a spec (free-form `params` included)

DNS_LABEL = 63  # container and port names, namespaces
NAME = 253  # DNS subdomain: names, ids, hosts
SHORT = 256  # enum-like words, keys, classes, issuers
PATH = 4096  # file paths, HTTP paths, mount paths
IMAGE = 1024  # an image reference with registry, tag and digest

CONTAINERS = 16  # main containers; sidecars the same again
VARIABLES = 512  # per container
VARIABLE_VALUE = 32 * 1024
ARGS = 256  # command/args items per container
ARG = 32 * 1024
FILES = 64  # per container
FILE_CONTENT = 256 * 1024
VOLUMES = 64  # per container
RESOURCES = 256  # dependencies per service
PORTS = 64
HOSTS = 64
ROUTE_PATHS = 64
SYSCTLS = 64
HEADERS = 32
CAPABILITIES = 64
ANNOTATIONS = 64
ANNOTATION_VALUE = 64 * 1024

# ${...} references across a service's variables and files, and how much text they may become:
# every reference costs a lookup, and the expansion is bounded by the size of the children.
TEMPLATE_REFERENCES = 4096
EXPANDED_VALUE = VARIABLE_VALUE  # one variable, after expansion
EXPANDED_FILE = FILE_CONTENT  # one file, after expansion
EXPANDED_TOTAL = MAX_SPEC_BYTES  # everything a service's templates expand to
