"""Domain test helper: a statement line as the issued ledger holds it once issued."""

from __future__ import annotations

from dataclasses import fields

from service.domain.settlement import IssuedLine, PricedLine


def as_issued(line: PricedLine) -> IssuedLine:
    """The issued-ledger form of a statement line, once its statement is issued."""
    return IssuedLine(**{f.name: getattr(line, f.name) for f in fields(PricedLine)})
