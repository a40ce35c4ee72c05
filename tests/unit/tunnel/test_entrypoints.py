"""lattice_tunnel.entrypoints: the start-up every tunnel binary shares."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from lattice_tunnel.entrypoints import add_kube_flags, run_main


def test_kube_flags() -> None:
    p = argparse.ArgumentParser()
    add_kube_flags(p)
    args = p.parse_args(["--kubeconfig", "k", "--context", "c", "--log-level", "debug"])
    assert (args.kubeconfig, args.context, args.log_level) == ("k", "c", "debug")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_run_main_returns_the_exit_code_on_either_loop(monkeypatch: pytest.MonkeyPatch, loop: str) -> None:
    monkeypatch.setenv("LATTICE_EVENT_LOOP", loop)

    async def main() -> int:
        await asyncio.sleep(0)
        return 3 if loop == "asyncio" or type(asyncio.get_running_loop()).__module__.startswith("uvloop") else 99

    assert run_main(main()) == 3
