"""The one error type of the ``lattice`` command: raised anywhere, printed and turned into an exit
code by ``cli.main.run`` only."""

from __future__ import annotations


class LatticeError(Exception):
    """A failure the user can act on; the message is printed as ``error: <message>``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
