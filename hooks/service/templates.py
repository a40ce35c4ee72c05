"""Score-compatible ``${...}`` substitution. Knows the syntax only, never where values come from.

Syntax:

- ``${a.b.c}`` is a placeholder whose path is ``("a", "b", "c")``. Inside it a backslash makes
  the next character literal, so ``${metadata.annotations.example\\.com/team}`` has the path
  ``("metadata", "annotations", "example.com/team")``. Names may contain hyphens.
- ``$${`` is an escape and always produces a literal ``${``; any other ``$`` is left alone.
- Mode ``NO_EXPAND`` takes the text verbatim; ``REVERSE_EXPAND`` leaves ``${...}`` literal and
  treats ``$${...}`` as the placeholder (for files that are themselves templates).

``expand(text, resolve)`` asks ``resolve(path)`` for each placeholder. A resolver returns text or a
``SecretKeyRef`` (a key of a Kubernetes Secret: secret values are never inlined) and raises
``Unresolved`` when the path names nothing. Every problem of a text is reported, not the first.
``placeholders(text)`` lists the references the same walk finds (for validation and scans).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs


class Mode(enum.Enum):
    EXPAND = "expand"
    NO_EXPAND = "noExpand"
    REVERSE_EXPAND = "reverseExpand"


@attrs.frozen
class SecretKeyRef:
    """One key of the Kubernetes Secret that a secret resource is synced into."""

    resource: str
    secret: str
    key: str


Resolved = str | SecretKeyRef
Path = tuple[str, ...]


class Unresolved(Exception):
    """Raised by a resolver. ``missing`` names an object that does not exist yet, if that is why."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


Resolver = Callable[[Path], Resolved]


@attrs.frozen
class Placeholder:
    path: Path
    raw: str  # as written, e.g. "${resources.db.host}"


@attrs.frozen
class TemplateError:
    reference: str
    message: str  # complete, e.g. "unknown reference '${x}': ..."
    missing: str | None = None

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class Expanded:
    """The result of one text: literal strings and secret references, plus every error."""

    parts: tuple[str | SecretKeyRef, ...]
    errors: tuple[TemplateError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def secret_refs(self) -> tuple[SecretKeyRef, ...]:
        return tuple(p for p in self.parts if isinstance(p, SecretKeyRef))

    @property
    def has_secrets(self) -> bool:
        return any(isinstance(p, SecretKeyRef) for p in self.parts)

    @property
    def text(self) -> str:
        """The plain text; only valid when no part is a secret reference."""
        if self.has_secrets:
            raise ValueError("expanded text contains secret references")
        return "".join(p for p in self.parts if isinstance(p, str))


Token = str | Placeholder | TemplateError


def _tokens(text: str, mode: Mode) -> list[Token]:
    """Split a text into literal strings, placeholders and syntax errors."""
    if mode is Mode.NO_EXPAND:
        return [text]
    opener = "${" if mode is Mode.EXPAND else "$${"
    out: list[Token] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)  # everything up to the next '$' is literal: jump over it at C speed
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        i = j
        if mode is Mode.EXPAND and text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if not text.startswith(opener, i):
            literal.append("$")
            i += 1
            continue
        if any(literal):
            out.append("".join(literal))
        literal = []
        token, i = _placeholder(text, i, len(opener))
        out.append(token)
    if any(literal):
        out.append("".join(literal))
    return out


def _placeholder(text: str, start: int, opener_len: int) -> tuple[Token, int]:
    segments: list[str] = []
    current: list[str] = []
    j, n = start + opener_len, len(text)
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n:
            current.append(text[j + 1])
            j += 2
        elif c == ".":
            segments.append("".join(current))
            current = []
            j += 1
        elif c == "}":
            segments.append("".join(current))
            raw = text[start : j + 1]
            if any(not s for s in segments):
                return TemplateError(raw, f"invalid reference '{raw}': empty name in the path"), j + 1
            return Placeholder(tuple(segments), raw), j + 1
        else:
            current.append(c)
            j += 1
    raw = text[start:]
    return TemplateError(raw, f"unterminated placeholder '{raw}' (missing '}}')"), n


def expand(text: str, resolve: Resolver, mode: Mode = Mode.EXPAND) -> Expanded:
    """Substitute every placeholder of ``text`` through ``resolve``."""
    parts: list[str | SecretKeyRef] = []
    errors: list[TemplateError] = []
    for token in _tokens(text, mode):
        if isinstance(token, TemplateError):
            errors.append(token)
            value: Resolved = token.reference
        elif isinstance(token, Placeholder):
            try:
                value = resolve(token.path)
            except Unresolved as e:
                errors.append(TemplateError(
                    token.raw, f"unknown reference '{token.raw}': {e.message}", e.missing))
                value = token.raw
        else:
            value = token
        if isinstance(value, str) and parts and isinstance(parts[-1], str):
            parts[-1] += value
        elif value != "":
            parts.append(value)
    return Expanded(tuple(parts), tuple(errors))


def placeholders(text: str, mode: Mode = Mode.EXPAND) -> tuple[Placeholder, ...]:
    """Every well-formed placeholder of ``text``, in order: the same walk ``expand`` does."""
    return tuple(t for t in _tokens(text, mode) if isinstance(t, Placeholder))


def single_placeholder(text: str) -> Placeholder | None:
    """The placeholder when ``text`` is exactly one ``${...}`` and nothing else."""
    tokens = _tokens(text, Mode.EXPAND)
    if len(tokens) == 1 and isinstance(tokens[0], Placeholder):
        return tokens[0]
    return None
