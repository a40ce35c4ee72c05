"""cli.get_clusters and cli.get_services offline: flags checked, a fleet nobody can reach (the real
reads are tests/integration/test_get.py)."""

import io
from pathlib import Path

import pytest
import yaml

from cli.errors import LatticeError
from cli.get_clusters import Output, clusters, timeout_seconds
from cli.get_services import services


def unreachable(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "a", "context": {"cluster": "x", "user": "u"}},
                     {"name": "b", "context": {"cluster": "x", "user": "u"}}]}))
    return path


def test_request_timeout() -> None:
    assert timeout_seconds("1m") == 60.0
    for bad in ("soon", "0s"):
        with pytest.raises(LatticeError) as exc:
            timeout_seconds(bad)
        assert exc.value.exit_code == 2


def test_no_readable_context(tmp_path: Path) -> None:
    err = io.StringIO()
    with pytest.raises(LatticeError, match="no context could be read"):
        clusters(str(unreachable(tmp_path)), None, Output.table, "3s", io.StringIO(), err)
    assert err.getvalue().count("https://127.0.0.1:1): unreachable") == 2  # each context, then skipped


def test_services_of_an_unreachable_context(tmp_path: Path) -> None:
    with pytest.raises(LatticeError, match=r"context a \(https://127.0.0.1:1\): unreachable"):
        services(str(unreachable(tmp_path)), None, None, False, Output.table, "3s", io.StringIO(), io.StringIO())
    with pytest.raises(LatticeError, match="cannot be used together"):
        services(str(unreachable(tmp_path)), None, "ns", True, Output.table, "3s", io.StringIO(), io.StringIO())
