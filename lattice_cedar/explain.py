"""Why a decision came out as it did: the statements that decided it, with their text and origin.

``explain(store, decision)`` turns a ``Decision`` into an ``Explanation``: the determining
statements (id, effect, CedarPolicy, line, text), or "no permit matched" with how many statements
were considered. Used by ``lattice policy check``; pure.
"""

from __future__ import annotations

import attrs

from lattice_cedar.store import Decision, DenyReason, PolicyStatement, PolicyStore

NO_PERMIT_MATCHED = "no permit matched"


@attrs.frozen
class Explanation:
    decision: Decision
    summary: str  # one line: "allowed by ...", "forbidden by ...", "no permit matched ..."
    statements: tuple[PolicyStatement, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def explain(store: PolicyStore, decision: Decision, considered: int | None = None) -> Explanation:
    """``considered``: how many statements the request met (``store.count(action, namespace)``)."""
    found = tuple(s for i in decision.policies if (s := store.statement(i)) is not None)
    ids = ", ".join(decision.policies)
    if decision.allowed:
        summary = f"allowed: permitted by {ids}"
    elif decision.reason is DenyReason.FORBIDDEN:
        summary = f"denied: forbidden by {ids}"
    elif decision.reason is DenyReason.FORBID_FAILED:
        summary = f"denied: forbid {ids} failed to evaluate, so access is denied to be safe"
    else:
        scope = "" if considered is None else f" ({considered} statement{'s' if considered != 1 else ''} considered)"
        summary = f"denied: {NO_PERMIT_MATCHED}{scope}"
    return Explanation(decision, summary, found, decision.errors)


def describe(statement: PolicyStatement) -> str:
    """``<id> (<effect>, CedarPolicy <name>, line <n>)``."""
    return f"{statement.id} ({statement.effect}, CedarPolicy {statement.source}, line {statement.line})"


__all__ = ["NO_PERMIT_MATCHED", "Explanation", "describe", "explain"]
