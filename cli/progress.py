"""The progress of a long command, as a person can follow it: each phase (done, running, to come),
and for the cluster being made its phase, what it waits for, machines ready out of desired, and
the time so far. A rich live display on a terminal; plain lines (each change once) otherwise, so
logs and CI read well too. Everything goes to stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text


class Progress:
    def __init__(self, phases: Sequence[str], titles: dict[str, str], *, stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.phases = list(phases)
        self.titles = titles
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, stderr=self.stream is sys.stderr, highlight=False)
        self.is_live = self.console.is_terminal if live is None else live
        self.current: str | None = None
        self.done: list[str] = []
        self.failed: str | None = None
        self.started = time.monotonic()
        self.phase_started = self.started
        self.detail = ""
        self._last_line = ""
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.is_live:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False,
                              get_renderable=self._render)
            self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    @staticmethod
    def elapsed(seconds: float) -> str:
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"

    def phase(self, name: str) -> None:
        if self.current is not None and self.current not in self.done:
            self.done.append(self.current)
        self.current, self.detail = name, ""
        self.phase_started = time.monotonic()
        if not self.is_live:
            n = self.phases.index(name) + 1 if name in self.phases else 0
            print(f"[{n}/{len(self.phases)}] {self.titles.get(name, name)}", file=self.stream, flush=True)

    def finish(self) -> None:
        if self.current is not None and self.current not in self.done:
            self.done.append(self.current)
        self.current = None
        if not self.is_live:
            print(f"done in {self.elapsed(time.monotonic() - self.started)}", file=self.stream, flush=True)

    def fail(self, name: str) -> None:
        self.failed = name

    def note(self, text: str) -> None:
        """A line that stays (above the live display)."""
        if self._live is not None:
            self._live.console.print(Text(text, style="dim"))
        else:
            print(f"  {text}", file=self.stream, flush=True)

    def status(self, phase: str | None, message: str | None, ready: int | None = None,
               desired: int | None = None) -> None:
        """The cluster being made: its phase, what it waits for, machines ready/desired."""
        parts = [p for p in (phase, message) if p]
        if ready is not None and desired:
            parts.append(f"machines {ready}/{desired}")
        self.detail = " · ".join(parts)
        if not self.is_live and self.detail and self.detail != self._last_line:
            self._last_line = self.detail
            print(f"  {self.detail} ({self.elapsed(time.monotonic() - self.started)})", file=self.stream, flush=True)

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        for i, name in enumerate(self.phases, 1):
            title = self.titles.get(name, name)
            mark: Text | Spinner
            if name == self.failed:
                mark, style = Text("✗", style="bold red"), "red"
            elif name in self.done:
                mark, style = Text("✓", style="green"), ""
            elif name == self.current:
                mark, style = Spinner("dots", style="cyan"), "bold"
                title += f"  [{self.elapsed(now - self.phase_started)}]"
            else:
                mark, style = Text("·", style="dim"), "dim"
            table.add_row(mark, Text(f"{i}/{len(self.phases)}", style="dim"), Text(title, style=style))
        footer = Text(f"{self.detail}\n" if self.detail else "", style="cyan")
        footer.append(f"elapsed {self.elapsed(now - self.started)}", style="dim")
        return Group(table, footer)
