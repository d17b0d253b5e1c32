"""The booking journal (posteringsfil) of an issued period: what each side books, one
entry per statement and treatment type. Pure.

The region books an expense per municipality's statement, the municipality an income; both
with the account string its own chart of accounts gives the treatment type (artskonto,
funktion, PSP-element or omkostningssted: each organisation's own, so configuration,
never code). An entry's amount is the statement's lines of that type summed in øre, with
the statement's sign (a credit is a negative expense and a negative income), so a journal's
entries sum to its statements' totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

DEFAULT_ACCOUNT = "default"
"""The key of an organisation's account string for treatment types it names no other for."""


class AccountsMissing(Exception):
    """No account string is configured for some organisation and treatment type."""

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = list(missing)


@dataclass(frozen=True)
class BookedStatement:
    """An issued statement as the journal reads it."""

    number: str
    period: str
    municipality_code: str
    municipality_name: str
    payer_key: str
    """The payer's key in the account configuration (its CVR number)."""
    payer_name: str
    issued_on: date
    by_type: Mapping[str, int]
    """Treatment type → the sum of its lines, in øre."""


@dataclass(frozen=True)
class Counterpart:
    cvr: str | None
    gln: str | None


@dataclass(frozen=True)
class JournalEntry:
    posting_date: date
    account: str
    amount_ore: int
    kind: str
    """ "Udgift" (the region's expense) or "Indtægt" (the municipality's income)."""
    text: str
    counterpart: Counterpart
    statement_number: str
    municipality_code: str
    treatment_type: str


def account_for(
    accounts: Mapping[str, Mapping[str, str]], organisation: str, treatment_type: str
) -> str | None:
    own = accounts.get(organisation, {})
    return own.get(treatment_type) or own.get(DEFAULT_ACCOUNT)


def journal(
    statements: Sequence[BookedStatement],
    side: str,
    accounts: Mapping[str, Mapping[str, str]],
    counterparts: Mapping[str, Counterpart],
    labels: Mapping[str, str],
) -> list[JournalEntry]:
    """The entries of `side` ("region", or a municipality's code) over `statements`.

    `counterparts` maps a municipality code (for the region's side) or a payer key (for a
    municipality's) to its identifiers; `labels` names the treatment types. Raises
    `AccountsMissing` naming every "<organisation>.<treatment type>" without an account."""
    entries: list[JournalEntry] = []
    missing: dict[str, None] = defaultdict(lambda: None)
    region = side == "region"
    for s in statements:
        if not region and s.municipality_code != side:
            continue
        organisation = s.payer_key if region else s.municipality_code
        other = counterparts.get(s.municipality_code if region else s.payer_key)
        for treatment_type, amount in sorted(s.by_type.items()):
            account = account_for(accounts, organisation, treatment_type)
            if account is None:
                missing[f"{organisation}.{treatment_type}"] = None
                continue
            party = s.municipality_name if region else s.payer_name
            label = labels.get(treatment_type, treatment_type)
            entries.append(
                JournalEntry(
                    posting_date=s.issued_on,
                    account=account,
                    amount_ore=amount,
                    kind="Udgift" if region else "Indtægt",
                    text=f"Afregning {s.number}, {s.period}, {label}, {party}",
                    counterpart=other or Counterpart(None, None),
                    statement_number=s.number,
                    municipality_code=s.municipality_code,
                    treatment_type=treatment_type,
                )
            )
    if missing:
        raise AccountsMissing(sorted(missing))
    return entries
