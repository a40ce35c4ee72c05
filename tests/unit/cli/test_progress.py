"""cli.progress: plain lines when not on a terminal (logs, CI), each change once."""

from __future__ import annotations

import io

from cli.progress import Progress


def test_plain_progress_names_phases_and_changes_once() -> None:
    out = io.StringIO()
    with Progress(("a", "b"), {"a": "First", "b": "Second"}, stream=out, live=False) as p:
        p.phase("a")
        p.status("Provisioning", "waiting for infrastructure", 0, 3)
        p.status("Provisioning", "waiting for infrastructure", 0, 3)
        p.phase("b")
        p.note("something happened")
        p.status("Pivoted", None)
        p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/2] First"
    assert lines[1].startswith("  Provisioning · waiting for infrastructure · machines 0/3 (")
    assert lines[2] == "[2/2] Second" and lines[3] == "  something happened"
    assert lines[4].startswith("  Pivoted (") and lines[5].startswith("done in ")
    assert Progress.elapsed(125) == "2m05s" and Progress.elapsed(5) == "5s"


def test_the_live_view_renders_each_state() -> None:
    p = Progress(("a", "b", "c"), {}, stream=io.StringIO(), live=False)
    p.phase("a")
    p.phase("b")
    p.fail("b")
    p.status("Failed", "boom", 1, 2)
    assert p._render() is not None and p.done == ["a"]
