"""An issued statement with its place in the issue chain, as the API serves it."""

from __future__ import annotations

from service.settlement.schemas import ChainOut, StatementOut

CHAIN_ISSUE = "9a" * 32
CHAIN_PREVIOUS = "c4" * 32


def chained(
    s: StatementOut, *, issue: str = CHAIN_ISSUE, previous: str = CHAIN_PREVIOUS
) -> StatementOut:
    return s.model_copy(update={"chain": ChainOut(previous=previous, issue=issue)})
