"""Go-style durations (``1h30m``, ``500ms``) as the CRDs accept them (crds.checks.duration)."""

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(text: str) -> float:
    """The duration in seconds; raises ValueError for text that is not a duration."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def whole_seconds(text: str) -> int:
    """The duration rounded up to whole seconds (what Kubernetes fields take)."""
    return math.ceil(seconds(text))
