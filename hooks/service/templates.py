"""Score's ``${...}`` substitution, exactly as score-go does it. Knows the syntax only, never where
values come from.

Syntax (one left-to-right scan for ``$$`` or ``${...}``):

- ``$$`` is one literal ``$``, everywhere: ``$$`` -> ``$``, ``$${x}`` -> ``${x}``, ``$$$${x}`` -> ``$${x}``;
  runs of ``$`` pair off from the left, so ``$$${x}`` is ``$`` followed by a placeholder.
- ``${ref}`` is a placeholder: ``ref`` is everything up to the first ``}`` (a reference never
  contains ``}``). It is split on ``.``; only ``\\.`` escapes, giving a literal dot inside one
  segment (``${metadata.annotations.example\\.com/team}``); any other backslash stays as written.
  Empty segments are kept (the resolver reports them).
- Any other ``$`` stays as written (``$PATH``, ``$(VAR)``, a trailing ``$``), and so does an
  unterminated ``${abc``: it is not a placeholder, so it is not an error either.
- Mode ``NO_EXPAND`` takes the text byte for byte (no placeholders, no ``$$`` reduction).
  ``REVERSE_EXPAND`` is a Lattice extension, not Score: ``$${ref}`` is the placeholder and
  everything else, ``${...}`` and ``$$`` included, is literal (for files that are templates).

``expand(text, resolve)`` asks ``resolve(path)`` for each placeholder. A resolver returns text, a
``SecretKeyRef`` (a key of a Kubernetes Secret: secret values are never inlined) or ``Parts``
(text mixed with secret keys), and raises ``Unresolved`` when the path names nothing. Every
problem of a text is reported, not only the first. Resolved values are not scanned again.
``placeholders(text)`` lists the references the same scan finds.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

import attrs


class Mode(enum.Enum):
    EXPAND = "expand"
    NO_EXPAND = "noExpand"
    REVERSE_EXPAND = "reverseExpand"


@attrs.frozen
class SecretKeyRef:
    """One key of a Kubernetes Secret. ``resource`` is the secret resource whose ExternalSecret
    fills it, or, with ``provisioned``, the resource whose provisioner made the Secret."""

    resource: str
    secret: str
    key: str
    provisioned: bool = False


@attrs.frozen
class Parts:
    """A value made of text and secret keys (e.g. a connection string with a password)."""

    parts: tuple[str | SecretKeyRef, ...]


Resolved = str | SecretKeyRef | Parts
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


Token = str | Placeholder

_SCORE = re.compile(r"\$(\$|\{([^}]*)\})")
_REVERSE = re.compile(r"\$\$\{([^}]*)\}")
# The same scan as _SCORE, matching placeholders only: a `${...}` after an even run of `$` that
# starts the run (the run is `$$` escapes). Between two matches the text holds no placeholder, so
# its escapes are `str.replace("$$", "$")`, left to right as the scan pairs them: the work is per
# placeholder, not per `$$` (a megabyte of escapes costs one C call, not a million matches).
_SCORE_PLACEHOLDER = re.compile(r"(?<!\$)((?:\$\$)*)\$\{([^}]*)\}")


def split_reference(ref: str) -> Path:
    """Split a reference on ``.``; ``\\.`` is a literal dot (score-go ``SplitRefParts``)."""
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(ref)
    while i < n:
        if ref.startswith("\\.", i):
            current.append(".")
            i += 2
        elif ref[i] == ".":
            segments.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ref[i])
            i += 1
    segments.append("".join(current))
    return tuple(segments)


def _tokens(text: str, mode: Mode) -> list[Token]:
    """Split a text into literal strings and placeholders (adjacent literals joined)."""
    if mode is Mode.NO_EXPAND:
        return [text] if text else []
    out: list[Token] = []
    pending: list[str] = []  # adjacent literals, joined once (`+=` on each would be quadratic)

    def flush() -> None:
        if joined := "".join(pending):
            out.append(joined)
        pending.clear()

    pos = 0
    if mode is Mode.EXPAND:
        for m in _SCORE_PLACEHOLDER.finditer(text):
            pending.append(text[pos:m.start()].replace("$$", "$"))
            pending.append("$" * (len(m.group(1)) // 2))
            pos = m.end()
            flush()
            out.append(Placeholder(split_reference(m.group(2)), m.group(0)[len(m.group(1)):]))
        pending.append(text[pos:].replace("$$", "$"))
    else:
        for m in _REVERSE.finditer(text):
            pending.append(text[pos:m.start()])
            pos = m.end()
            flush()
            out.append(Placeholder(split_reference(m.group(1)), m.group(0)))
        pending.append(text[pos:])
    flush()
    return out


def expand(text: str, resolve: Resolver, mode: Mode = Mode.EXPAND) -> Expanded:
    """Substitute every placeholder of ``text`` through ``resolve``."""
    parts: list[str | SecretKeyRef] = []
    errors: list[TemplateError] = []
    text_run: list[str] = []  # adjacent strings, joined once (as in _tokens)

    def add(value: str | SecretKeyRef) -> None:
        if isinstance(value, str):
            text_run.append(value)
            return
        if joined := "".join(text_run):
            parts.append(joined)
        text_run.clear()
        parts.append(value)

    for token in _tokens(text, mode):
        if isinstance(token, str):
            add(token)
            continue
        try:
            value = resolve(token.path)
        except Unresolved as e:
            errors.append(TemplateError(token.raw, f"unknown reference '{token.raw}': {e.message}", e.missing))
            add(token.raw)
            continue
        for p in value.parts if isinstance(value, Parts) else (value,):
            add(p)
    if joined := "".join(text_run):
        parts.append(joined)
    return Expanded(tuple(parts), tuple(errors))


def placeholders(text: str, mode: Mode = Mode.EXPAND) -> tuple[Placeholder, ...]:
    """Every placeholder of ``text``, in order: the same scan ``expand`` does."""
    return tuple(t for t in _tokens(text, mode) if isinstance(t, Placeholder))


def single_placeholder(text: str) -> Placeholder | None:
    """The placeholder when ``text`` is exactly one ``${...}`` and nothing else."""
    tokens = _tokens(text, Mode.EXPAND)
    if len(tokens) == 1 and isinstance(tokens[0], Placeholder):
        return tokens[0]
    return None
