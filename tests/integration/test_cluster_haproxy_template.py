"""The HAProxy template the compiler hands CAPD for RKE2 on Docker, rendered by Go's text/template
exactly as CAPD renders it (same data fields, same ``JoinHostPort`` function), with three control-plane
backends. CAPD itself and the haproxy container are not run here (no Docker)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hooks.cluster.providers.docker import RKE2_HAPROXY

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# Mirrors CAPD's loadbalancer.ConfigData / BackendServer and its template FuncMap.
RENDER = """package main

import (
	"encoding/json"
	"net"
	"os"
	"text/template"
)

type BackendServer struct {
	Address string
	Weight  int
}

type ConfigData struct {
	FrontendControlPlanePort string
	BackendControlPlanePort  string
	BackendServers           map[string]BackendServer
	IPv6                     bool
}

func main() {
	var in struct {
		Template string
		Data     ConfigData
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	t := template.Must(template.New("lb").Funcs(template.FuncMap{"JoinHostPort": net.JoinHostPort}).Parse(in.Template))
	if err := t.Execute(os.Stdout, in.Data); err != nil {
		panic(err)
	}
}
"""


def _render(tmp_path: Path, ipv6: bool) -> str:
    (tmp_path / "go.mod").write_text("module render\n\ngo 1.21\n")
    (tmp_path / "main.go").write_text(RENDER)
    servers = {f"cp-{i}": {"Address": f"172.18.0.{10 + i}" if not ipv6 else f"fd00::{10 + i}", "Weight": 100}
               for i in range(3)}
    data = {"FrontendControlPlanePort": "6443", "BackendControlPlanePort": "6443", "BackendServers": servers,
            "IPv6": ipv6}
    proc = subprocess.run(["go", "run", "."], cwd=tmp_path, input=json.dumps({"Template": RKE2_HAPROXY, "Data": data}),
                          capture_output=True, text=True, timeout=240, check=False,
                          env={**os.environ, "GOWORK": "off", "GOTOOLCHAIN": "local", "GOFLAGS": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_renders_both_frontends_and_every_backend(tmp_path: Path) -> None:
    out = _render(tmp_path, ipv6=False)
    assert "bind *:6443" in out and "bind *:9345" in out and "bind :::" not in out
    for i in range(3):
        assert f"server cp-{i} 172.18.0.{10 + i}:6443 weight 100 check check-ssl verify none" in out
        assert f"server cp-{i} 172.18.0.{10 + i}:9345 weight 100 check resolvers docker resolve-prefer ipv4" in out
    assert "{{" not in out


def test_renders_ipv6(tmp_path: Path) -> None:
    out = _render(tmp_path, ipv6=True)
    assert "bind :::9345;" in out and "[fd00::10]:9345" in out and "resolve-prefer ipv6" in out
